//! The end-to-end tests, in one binary: the real handler (and, in `binary`, the real
//! executable), the real AWS SDK, the strict emulator. One emulator serves the whole
//! run, started by the first test that needs it (`harness::emulator`); every test uses
//! names of its own, so they all run in parallel against it.
//!
//! Scenarios that must hold whatever the network does are plain functions taking a
//! [`harness::Harness`], run once per profile by [`both_profiles!`]: straight to the
//! emulator (`<module>::direct::<scenario>`) and through a fault-injecting proxy of the
//! test's own (`<module>::faulty::<scenario>`).

/// Runs each named scenario of the calling module, an `async fn(&Harness)`, as two
/// tests: `direct::<scenario>` and `faulty::<scenario>`, each with a harness of its own.
macro_rules! both_profiles {
    ($($scenario:ident),+ $(,)?) => {
        mod direct {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let h = $crate::harness::Harness::new($crate::harness::Profile::Direct);
                    super::$scenario(&h).await;
                }
            )+
        }

        mod faulty {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let h = $crate::harness::Harness::new($crate::harness::Profile::Faulty);
                    super::$scenario(&h).await;
                }
            )+
        }
    };
}

mod harness;
mod support;

mod audit;
mod binary;
mod corpus;
mod escalation_paths;
mod failures;
mod fault_injection;
mod fault_proxy_selftest;
mod fence;
mod grants;
mod least_power;
mod lifecycle;
mod owners;
mod rotation;
mod validation;
mod verification;
mod watch;
