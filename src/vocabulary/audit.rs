//! The kinds of event the audit trail records (`audit_events.kind`), as the admin API filters
//! them (`GET /admin/v1/audit?kind=`).

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    /// A person signed in: a session started.
    LoginSucceeded,
    /// A sign-in was refused (wrong password, a provider's answer that did not verify, a
    /// disabled account), with the reason.
    LoginFailed,
    /// A person allowed a client personal data or offline access.
    ConsentGranted,
    /// A client revoked one of its tokens (RFC 7009).
    TokensRevoked,
    /// A spent authorization code or refresh token was presented again: everything of its grant
    /// was revoked.
    GrantReplayed,
    /// A person or an operator withdrew a consent (the client's tokens went with it).
    ConsentRevoked,
    /// A person or an operator ended one session.
    SessionEnded,
    /// An operator ended every session of a user and revoked every token issued to them.
    AccessRevoked,
    /// An operator changed something through the admin API or the CLI, with the fields before
    /// and after (never a secret).
    AdminChange,
    /// An operator's change was refused; nothing else was written.
    AdminRefused,
}

impl AuditKind {
    pub const ALL: [AuditKind; 10] = [
        AuditKind::LoginSucceeded,
        AuditKind::LoginFailed,
        AuditKind::ConsentGranted,
        AuditKind::TokensRevoked,
        AuditKind::GrantReplayed,
        AuditKind::ConsentRevoked,
        AuditKind::SessionEnded,
        AuditKind::AccessRevoked,
        AuditKind::AdminChange,
        AuditKind::AdminRefused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::LoginSucceeded => "login.succeeded",
            AuditKind::LoginFailed => "login.failed",
            AuditKind::ConsentGranted => "consent.granted",
            AuditKind::TokensRevoked => "tokens.revoked",
            AuditKind::GrantReplayed => "grant.replayed",
            AuditKind::ConsentRevoked => "consent.revoked",
            AuditKind::SessionEnded => "session.ended",
            AuditKind::AccessRevoked => "access.revoked",
            AuditKind::AdminChange => "admin.change",
            AuditKind::AdminRefused => "admin.refused",
        }
    }

    pub fn parse(text: &str) -> Option<AuditKind> {
        AuditKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::AuditKind;

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in AuditKind::ALL {
            assert_eq!(AuditKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(AuditKind::parse("login"), None);
    }
}
