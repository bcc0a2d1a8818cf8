//! Config parsing and validation (`idbridge check-config`): any text either gives a config or a
//! list of problems (written out as `check-config` prints them), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let env = |name: &str| {
            name.starts_with("FUZZ_")
                .then(|| "fuzz-secret-0123456789abcdefghijklmnop".to_string())
        };
        if let Err(problems) = idbridge::Config::from_toml(text, &env) {
            let _ = problems.to_string();
        }
    }
});
