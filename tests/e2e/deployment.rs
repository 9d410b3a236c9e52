//! The container files, checked against the code without a Docker engine: docker-compose.yml
//! runs both binaries with settings each binary declares, on their default ports, with health
//! checks through the `healthcheck` subcommand, order-service waiting for a healthy
//! course-service, data on volumes and the secret from `.env`, PostgreSQL as an optional profile
//! both services can be pointed at; the Dockerfile builds only the two shipped binaries, with the
//! dependencies cached between builds, and runs them as a non-root user on a slim base.

use clap::Args;
use std::{collections::BTreeMap, path::PathBuf};
use yaml_serde::Value;

fn repo_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn compose() -> Value {
    let mut doc: Value = yaml_serde::from_str(&repo_file("docker-compose.yml")).expect("YAML");
    doc.apply_merge().expect("merge keys");
    doc
}

/// Every environment variable a binary reads, with its default (if any), from its clap config.
fn declared_env(command: clap::Command) -> BTreeMap<String, Option<String>> {
    command
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_str()?.to_owned();
            let default = arg
                .get_default_values()
                .first()
                .and_then(|v| v.to_str())
                .map(str::to_owned);
            Some((env, default))
        })
        .collect()
}

fn course_env() -> BTreeMap<String, Option<String>> {
    declared_env(course_service::Config::augment_args(clap::Command::new(
        "course-service",
    )))
}

fn order_env() -> BTreeMap<String, Option<String>> {
    declared_env(order_service::Config::augment_args(clap::Command::new(
        "order-service",
    )))
}

fn text<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} should be a string, got {value:?}"))
}

fn environment(service: &Value) -> BTreeMap<String, String> {
    service["environment"]
        .as_mapping()
        .expect("environment is a mapping")
        .iter()
        .map(|(k, v)| {
            (
                text(k, "env name").to_owned(),
                text(v, "env value").to_owned(),
            )
        })
        .collect()
}

/// `${NAME:-default}` -> `Some(("NAME", "default"))`.
fn interpolation(value: &str) -> Option<(&str, &str)> {
    value
        .strip_prefix("${")?
        .strip_suffix('}')?
        .split_once(":-")
}

fn dotenv_example() -> BTreeMap<String, String> {
    repo_file(".env.example")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[test]
fn compose_runs_each_binary_with_settings_it_declares_on_its_default_port() {
    let doc = compose();
    let services = doc["services"].as_mapping().expect("services");
    let names: Vec<&str> = services.keys().map(|k| text(k, "service name")).collect();
    assert_eq!(
        names,
        ["course-service", "order-service", "storefront", "postgres"]
    );

    for (name, declared) in [
        ("course-service", course_env()),
        ("order-service", order_env()),
    ] {
        let service = &doc["services"][name];
        let command = service["command"].as_sequence().expect("command");
        assert_eq!(
            text(&command[0], "command"),
            name,
            "{name} runs its own binary"
        );

        let env = environment(service);
        for (key, value) in &env {
            let default = declared
                .get(key)
                .unwrap_or_else(|| panic!("{name} does not read {key}, which compose sets"));
            if let Some((var, fallback)) = interpolation(value) {
                assert_eq!(
                    var, key,
                    "{name}: {key} is interpolated from another variable"
                );
                // An empty fallback stands for "unset" where the binary has no default.
                assert_eq!(
                    Some(fallback).filter(|f| !f.is_empty()),
                    default.as_deref(),
                    "{name}: compose's fallback for {key} differs from the binary's default"
                );
            }
        }

        let port = env.get("PORT").expect("PORT set explicitly");
        assert_eq!(
            Some(port),
            declared["PORT"].as_ref(),
            "{name} keeps its default port"
        );
        let ports: Vec<&str> = service["ports"]
            .as_sequence()
            .expect("ports")
            .iter()
            .map(|p| text(p, "port"))
            .collect();
        assert_eq!(
            ports,
            [format!("{port}:{port}")],
            "{name} publishes its port"
        );
        assert_eq!(env.get("HOST").map(String::as_str), Some("0.0.0.0"));

        let data_dir = env.get("DATA_DIR").expect("DATA_DIR set");
        let volumes: Vec<&str> = service["volumes"]
            .as_sequence()
            .expect("volumes")
            .iter()
            .map(|v| text(v, "volume"))
            .collect();
        assert_eq!(volumes.len(), 1, "{name} has one data volume");
        let (volume, target) = volumes[0].split_once(':').expect("volume:target");
        assert_eq!(
            target, data_dir,
            "{name}'s volume is mounted at its DATA_DIR"
        );
        assert!(
            doc["volumes"].get(volume).is_some(),
            "{name}'s volume {volume} is declared"
        );

        let healthcheck = &service["healthcheck"];
        let test: Vec<&str> = healthcheck["test"]
            .as_sequence()
            .expect("healthcheck test")
            .iter()
            .map(|t| text(t, "healthcheck"))
            .collect();
        assert_eq!(
            test,
            ["CMD", name, "healthcheck"],
            "{name} probes itself, no curl"
        );
        for key in ["interval", "timeout", "retries", "start_period"] {
            assert!(
                healthcheck.get(key).is_some(),
                "{name} healthcheck sets {key}"
            );
        }

        assert_eq!(
            service["restart"].as_str(),
            Some("unless-stopped"),
            "{name} restarts"
        );
        assert_eq!(
            service["env_file"].as_str(),
            Some(".env"),
            "{name} takes its secret from .env"
        );
        assert!(
            !env.contains_key("AUTH_JWT_SECRET"),
            "{name}: the secret is not written into the compose file"
        );
    }
}

#[test]
fn order_service_waits_for_a_healthy_course_service_and_calls_it_by_name() {
    let doc = compose();
    let order = &doc["services"]["order-service"];
    assert_eq!(
        order["depends_on"]["course-service"]["condition"].as_str(),
        Some("service_healthy")
    );
    let course_port = environment(&doc["services"]["course-service"])["PORT"].clone();
    assert_eq!(
        environment(order)["COURSE_SERVICE_URL"],
        format!("http://course-service:{course_port}")
    );
    // And outside compose the binaries' defaults point at each other too.
    assert_eq!(
        order_env()["COURSE_SERVICE_URL"].as_deref(),
        Some(format!("http://127.0.0.1:{course_port}").as_str())
    );
}

/// The storefront's settings, from its clap config.
fn storefront_env() -> BTreeMap<String, Option<String>> {
    declared_env(storefront::Config::augment_args(clap::Command::new(
        "storefront",
    )))
}

#[test]
fn the_storefront_runs_its_binary_after_both_services_and_calls_them_by_name() {
    let doc = compose();
    let shop = &doc["services"]["storefront"];
    let command = shop["command"].as_sequence().expect("command");
    assert_eq!(text(&command[0], "command"), "storefront");
    let env = environment(shop);
    let declared = storefront_env();
    for (key, value) in &env {
        let default = declared
            .get(key)
            .unwrap_or_else(|| panic!("the storefront does not read {key}, which compose sets"));
        if let Some((var, fallback)) = interpolation(value) {
            assert_eq!(var, key, "{key} is interpolated from another variable");
            assert_eq!(
                Some(fallback).filter(|f| !f.is_empty()),
                default.as_deref(),
                "compose's fallback for {key} differs from the binary's default"
            );
        }
    }
    let port = env.get("PORT").expect("PORT set explicitly");
    assert_eq!(Some(port), declared["PORT"].as_ref(), "its default port");
    let ports: Vec<&str> = shop["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .map(|p| text(p, "port"))
        .collect();
    assert_eq!(ports, [format!("{port}:{port}")]);
    for (service, var) in [
        ("course-service", "COURSE_SERVICE_URL"),
        ("order-service", "ORDER_SERVICE_URL"),
    ] {
        assert_eq!(
            shop["depends_on"][service]["condition"].as_str(),
            Some("service_healthy"),
            "waits for {service}"
        );
        let their_port = environment(&doc["services"][service])["PORT"].clone();
        assert_eq!(env[var], format!("http://{service}:{their_port}"));
    }
    let test: Vec<&str> = shop["healthcheck"]["test"]
        .as_sequence()
        .expect("healthcheck test")
        .iter()
        .map(|t| text(t, "healthcheck"))
        .collect();
    assert_eq!(test, ["CMD", "storefront", "healthcheck"]);
    assert_eq!(shop["env_file"].as_str(), Some(".env"));
}

#[test]
fn postgres_is_an_optional_profile_both_services_can_share() {
    let doc = compose();
    let postgres = &doc["services"]["postgres"];
    let profiles: Vec<&str> = postgres["profiles"]
        .as_sequence()
        .expect("profiles")
        .iter()
        .map(|p| text(p, "profile"))
        .collect();
    assert_eq!(
        profiles,
        ["postgres"],
        "PostgreSQL starts only when asked for"
    );
    let healthcheck: Vec<&str> = postgres["healthcheck"]["test"]
        .as_sequence()
        .expect("healthcheck")
        .iter()
        .map(|p| text(p, "healthcheck"))
        .collect();
    assert!(healthcheck.contains(&"pg_isready"), "{healthcheck:?}");
    assert!(
        postgres.get("ports").is_none(),
        "the database is not published on the host"
    );
    let env = environment(postgres);
    let (user, database) = (&env["POSTGRES_USER"], &env["POSTGRES_DB"]);
    let (_, password) = interpolation(&env["POSTGRES_PASSWORD"]).expect("a password default");

    for name in ["course-service", "order-service"] {
        let service = &doc["services"][name];
        let dependency = &service["depends_on"]["postgres"];
        assert_eq!(
            dependency["condition"].as_str(),
            Some("service_healthy"),
            "{name} waits for PostgreSQL when it runs"
        );
        assert_eq!(
            dependency["required"].as_bool(),
            Some(false),
            "{name} also starts without the profile"
        );
        assert_eq!(
            environment(service)["DATABASE_URL"],
            "${DATABASE_URL:-}",
            "{name}: unset means the embedded store"
        );
    }

    // .env.example shows how to turn it on, with a URL that reaches the profile's server.
    let example = repo_file(".env.example");
    let commented = |key: &str| {
        example
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix('#')?
                    .strip_prefix(key)?
                    .strip_prefix('=')
            })
            .unwrap_or_else(|| panic!(".env.example shows {key}"))
            .to_owned()
    };
    assert_eq!(commented("COMPOSE_PROFILES"), "postgres");
    assert_eq!(
        commented("DATABASE_URL"),
        format!("postgres://{user}:{password}@postgres:5432/{database}")
    );
}

#[test]
fn the_env_example_declares_the_secret_and_only_settings_the_binaries_read() {
    let example = dotenv_example();
    let secret = example.get("AUTH_JWT_SECRET").expect("AUTH_JWT_SECRET");
    assert_eq!(
        service_kit::secrets::check(secret),
        Err(service_kit::secrets::WeakSecret::Placeholder),
        "the example's secret is a placeholder no binary starts with"
    );
    let (course, order) = (course_env(), order_env());
    for key in example.keys() {
        assert!(
            course.contains_key(key) || order.contains_key(key),
            ".env.example sets {key}, which no binary reads"
        );
    }
    for ignore in [".gitignore", ".dockerignore"] {
        assert!(
            repo_file(ignore).lines().any(|l| l.trim() == ".env"),
            "{ignore} keeps .env out"
        );
    }
}

/// The Dockerfile's instructions, with continued lines joined.
fn dockerfile_instructions(dockerfile: &str) -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines().map(str::trim) {
        if line.starts_with('#') && current.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                if !current.trim().is_empty() {
                    instructions.push(current.split_whitespace().collect::<Vec<_>>().join(" "));
                }
                current.clear();
            }
        }
    }
    instructions
}

#[test]
fn the_dockerfile_builds_only_the_shipped_binaries_with_cached_dependencies() {
    let dockerfile = repo_file("Dockerfile");
    let instructions = dockerfile_instructions(&dockerfile);
    let build = instructions
        .iter()
        .find(|i| i.starts_with("RUN ") && i.contains("cargo build"))
        .expect("a cargo build step");
    assert!(
        build.contains(
            "cargo build --release --locked -p course-service -p order-service -p storefront --bins"
        ),
        "builds exactly the shipped binaries, in release, from Cargo.lock: {build}"
    );
    for cached in ["target=/usr/local/cargo/registry", "target=/src/target"] {
        assert!(
            build.contains("--mount=type=cache,") && build.contains(cached),
            "the build step keeps {cached} in a cache mount, so a source change does not rebuild \
             every crate: {build}"
        );
    }

    let stages: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert!(stages.len() >= 2, "multi-stage build");
    let runtime = stages.last().expect("runtime stage");
    assert!(runtime.contains("-slim"), "slim runtime base: {runtime}");

    let user = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    let user = user.split(':').next().unwrap_or_default().trim();
    assert!(
        !["root", "0", ""].contains(&user),
        "runs as a non-root user, not {user:?}"
    );
    let shipped = instructions
        .iter()
        .find(|i| i.starts_with("COPY --from="))
        .expect("the runtime stage copies the binaries");
    for binary in ["course-service", "order-service", "storefront"] {
        assert!(
            shipped.contains(&format!("/{binary} "))
                && build.contains(&format!("release/{binary}")),
            "the image holds {binary}: {shipped}"
        );
    }
}
