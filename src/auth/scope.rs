//! The scopes a token may carry (API.md §2).

use std::str::FromStr;

macro_rules! scopes {
    ($($variant:ident => $name:literal),+ $(,)?) => {
        /// One permission a token may carry in its space-separated `scope` claim.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Scope { $(#[doc = $name] $variant),+ }

        impl Scope {
            /// Every scope, in declaration order.
            pub const ALL: &'static [Scope] = &[$(Scope::$variant),+];

            /// The scope as written in tokens.
            pub fn as_str(self) -> &'static str {
                match self { $(Scope::$variant => $name),+ }
            }
        }

        impl FromStr for Scope {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s { $($name => Ok(Scope::$variant),)+ _ => Err(format!("unknown scope `{s}`")) }
            }
        }
    };
}

scopes! {
    ClientsRead => "clients:read",
    ClientsWrite => "clients:write",
    ContactsRead => "contacts:read",
    ContactsWrite => "contacts:write",
    OrdersRead => "orders:read",
    OrdersWrite => "orders:write",
    ConsentsRead => "consents:read",
    ConsentsWrite => "consents:write",
    DsarSubmit => "dsar:submit",
    DsarSubmitVerified => "dsar:submit_verified",
    DsarManage => "dsar:manage",
    AuditRead => "audit:read",
    RegisterRead => "register:read",
    RegisterWrite => "register:write",
    RetentionRun => "retention:run",
    ExportsRun => "exports:run",
    ImportsRun => "imports:run",
    WebhooksManage => "webhooks:manage",
    TokensManage => "tokens:manage",
    Admin => "admin",
}

impl Scope {
    pub(crate) fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips_and_has_its_own_bit() {
        let mut seen = 0u32;
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>().unwrap(), *s);
            assert_eq!(seen & s.bit(), 0);
            seen |= s.bit();
        }
        assert!("clients:delete".parse::<Scope>().is_err());
    }
}
