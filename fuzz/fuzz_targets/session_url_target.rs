//! The `TargetUrl` of a session-URL request (`session_urls::target::read`): whatever the string,
//! it is read or refused, never a panic; and what is accepted leads only to a registered origin.
#![no_main]

use std::sync::OnceLock;

use idbridge::Config;
use idbridge::clients::Clients;
use libfuzzer_sys::fuzz_target;

const CONFIG: &str = r#"
[keys]
encryption_key = "env:FUZZ_KEK"
[[clients]]
client_id = "shop"
client_secret = "env:FUZZ_SECRET"
redirect_uris = ["https://shop.example.com/callback"]
[[products]]
id = "helpdesk"
format = "workspace"
allowed_domains = ["*.help.example.com"]
secrets = ["env:FUZZ_SECRET"]
"#;

fn config() -> &'static (Config, Clients) {
    static CONFIG_AND_CLIENTS: OnceLock<(Config, Clients)> = OnceLock::new();
    CONFIG_AND_CLIENTS.get_or_init(|| {
        let config = idbridge_fuzz::config(CONFIG);
        let clients = Clients::new(&config.clients);
        (config, clients)
    })
}

fuzz_target!(init: { config(); }, |data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let (config, clients) = config();
    if let Ok(read) = idbridge::session_urls::target::read(raw, clients, &config.products) {
        let host = url::Url::parse(&read.target_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string));
        let host = host.expect("an accepted target is an absolute URL with a host");
        assert!(
            host == "shop.example.com" || host.ends_with(".help.example.com"),
            "accepted a target on {host}"
        );
    }
});
