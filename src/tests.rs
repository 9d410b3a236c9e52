//! The launcher's settings against the services': a value one refuses, the other refuses too.

use super::Cli;
use clap::{Args, CommandFactory, Parser};

/// Values worth trying on any setting: bounds, out-of-range numbers, words and nothing.
const PROBES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "100",
    "300",
    "5000",
    "86400",
    "86401",
    "65536",
    "4294967296",
    "abc",
    "embedded",
    "memory",
    "json",
    "pretty",
    "http://127.0.0.1:4318",
];

/// Every argument of `command` that reads an environment variable: (variable, long flag).
fn env_flags(command: &clap::Command) -> Vec<(String, String)> {
    command
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_str()?.to_owned();
            Some((env, arg.get_long()?.to_owned()))
        })
        .collect()
}

fn accepts(command: &clap::Command, flag: &str, value: &str) -> bool {
    command
        .clone()
        .ignore_errors(false)
        .try_get_matches_from(["x", &format!("--{flag}={value}")])
        .is_ok()
}

#[test]
fn the_launcher_checks_every_shared_setting_exactly_like_the_services() {
    let launcher = Cli::command();
    let services = [
        course_service::Config::augment_args(clap::Command::new("course-service")),
        order_service::Config::augment_args(clap::Command::new("order-service")),
    ];
    let mut compared = 0;
    for (env, flag) in env_flags(&launcher) {
        for service in &services {
            let Some((_, service_flag)) = env_flags(service).into_iter().find(|(e, _)| *e == env)
            else {
                continue;
            };
            for value in PROBES {
                assert_eq!(
                    accepts(&launcher, &flag, value),
                    accepts(service, &service_flag, value),
                    "{env}={value:?}: the launcher and {} disagree",
                    service.get_name()
                );
            }
            compared += 1;
        }
    }
    assert!(compared >= 8, "only {compared} shared settings compared");
}

#[test]
fn a_hold_lifetime_of_zero_is_refused_by_the_launcher() {
    let refused = Cli::try_parse_from(["course-platform", "--reservation-ttl-secs", "0"])
        .expect_err("refused");
    assert!(refused.to_string().contains("1..=86400"), "{refused}");
}
