//! Tokens from the operator's OpenID Connect provider (Keycloak, Auth0, Entra ID, Cognito, ...):
//! its discovery document, its signing keys (JWKS) fetched, kept and refreshed, and RS256 or ES256
//! access tokens verified against them.
//!
//! - Keys come from the `jwks_uri` the issuer's discovery document names; the document must name
//!   the configured issuer exactly (OpenID Connect Discovery 1.0, section 4.3).
//! - They are refreshed every `AUTH_JWKS_REFRESH_SECS`, and when a token names a `kid` not among
//!   them, at most once per [`UNKNOWN_KID_REFRESH_INTERVAL`]: a flood of tokens with forged kids
//!   costs the provider one request a minute. Concurrent requests for an unknown kid share one
//!   fetch.
//! - A key is used only for the algorithm it is published for (RS256 for an RSA key, ES256 for a
//!   P-256 key, or its `alg`); encryption keys (`use: enc`) and other kinds are skipped. Which
//!   path verifies a token is decided by its header before any key is touched: HS256 goes to the
//!   shared secret only, RS256 and ES256 to these keys only, anything else is refused.
//! - A provider that cannot be reached keeps the keys already loaded; until the first load the
//!   service is not ready.
//!
//! Key parsing and signature checks are `jsonwebtoken`'s ([`Jwk`], [`DecodingKey::from_jwk`]).

use super::{AuthError, Identity, Roles, check_subject, check_times, refusal};
use arc_swap::ArcSwap;
use jsonwebtoken::{
    Algorithm, DecodingKey, Header, Validation,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse},
};
use serde::Deserialize;
use shared_types::Role;
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// The shortest time between two fetches caused by tokens naming an unknown `kid`.
pub const UNKNOWN_KID_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// How long one request to the provider may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest discovery document or key set accepted.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// The longest wait between attempts while the provider cannot be reached.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Settings for accepting an OpenID Connect provider's tokens (both services' `--help` lists them).
#[derive(Debug, Clone, clap::Args)]
pub struct OidcArgs {
    /// Issuer URL of an OpenID Connect provider whose RS256/ES256 tokens are accepted besides the
    /// shared secret's, exactly as the provider names itself (its discovery document is read from
    /// `<issuer>/.well-known/openid-configuration`). Unset: only the shared secret's tokens.
    #[arg(long = "auth-oidc-issuer", env = "AUTH_OIDC_ISSUER", global = true)]
    pub issuer: Option<String>,
    /// The audience (`aud`) a provider's token must name: this API's identifier at the provider.
    /// Required with `AUTH_OIDC_ISSUER`.
    #[arg(long = "auth-audience", env = "AUTH_AUDIENCE", global = true)]
    pub audience: Option<String>,
    /// The claim of a provider's token that holds the caller's role: a string or an array of
    /// strings, of which `student` and `instructor` count. A dotted path reaches into an object
    /// (Keycloak's `realm_access.roles`) when no top-level claim has the whole name (Auth0's
    /// namespaced `https://example.com/roles`).
    #[arg(
        long = "auth-role-claim",
        env = "AUTH_ROLE_CLAIM",
        default_value = "role",
        global = true
    )]
    pub role_claim: String,
    /// How often the provider's keys are fetched again, in seconds (an unknown `kid` also fetches
    /// them, at most once a minute).
    #[arg(long = "auth-jwks-refresh-secs", env = "AUTH_JWKS_REFRESH_SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    pub jwks_refresh_secs: u64,
}

impl Default for OidcArgs {
    fn default() -> Self {
        OidcArgs {
            issuer: None,
            audience: None,
            role_claim: "role".into(),
            jwks_refresh_secs: 600,
        }
    }
}

impl OidcArgs {
    /// Settings for `issuer` with `audience`, defaults for the rest.
    pub fn provider(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        OidcArgs {
            issuer: Some(issuer.into()),
            audience: Some(audience.into()),
            ..OidcArgs::default()
        }
    }
}

/// Why the provider settings were refused at start-up.
#[derive(Debug, thiserror::Error)]
pub enum OidcConfigError {
    #[error(
        "AUTH_OIDC_ISSUER is set but AUTH_AUDIENCE is not: name the audience this API's tokens carry"
    )]
    NoAudience,
    #[error("AUTH_AUDIENCE is set but AUTH_OIDC_ISSUER is not")]
    NoIssuer,
    #[error("AUTH_OIDC_ISSUER `{0}` is not an http(s) URL")]
    BadIssuer(String),
    #[error("AUTH_ROLE_CLAIM is empty")]
    NoRoleClaim,
    #[error("cannot build the HTTP client for the provider: {0}")]
    Client(#[from] reqwest::Error),
}

/// One signing key: what it verifies and how.
struct Key {
    jwk: Jwk,
    decoding: DecodingKey,
    validation: Validation,
}

/// The keys of one fetch, by `kid`.
#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<Key>>,
    loaded: bool,
}

/// An OpenID Connect provider's keys and the rules its tokens are checked by.
pub struct Provider {
    issuer: String,
    audience: String,
    role_claim: String,
    refresh_every: Duration,
    http: reqwest::Client,
    keys: ArcSwap<KeySet>,
    /// Bumped whenever a key is removed or changed: cached identities verified under an older
    /// generation are checked again.
    generation: AtomicU64,
    jwks_uri: Mutex<Option<String>>,
    last_kid_refresh: Mutex<Option<Instant>>,
    fetching: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

/// The claims of a provider's token this service reads; the rest stay in `other` for the role.
#[derive(Deserialize)]
struct ProviderClaims {
    sub: String,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

/// What a refresh changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refreshed {
    pub keys: usize,
    pub removed_or_changed: usize,
}

impl Provider {
    /// The provider named by `args`, or `None` when no issuer is configured. Its keys are loaded
    /// once before this returns (a provider that does not answer in a few seconds is left to the
    /// background refresh), then refreshed in the background for as long as the provider is
    /// referenced.
    pub async fn start(args: &OidcArgs) -> Result<Option<Arc<Provider>>, OidcConfigError> {
        // An empty value (as an unset variable interpolated by compose gives) counts as unset.
        fn set(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        let (issuer, audience) = match (set(&args.issuer), set(&args.audience)) {
            (None, None) => return Ok(None),
            (Some(_), None) => return Err(OidcConfigError::NoAudience),
            (None, Some(_)) => return Err(OidcConfigError::NoIssuer),
            (Some(issuer), Some(audience)) => (issuer.to_owned(), audience),
        };
        if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
            return Err(OidcConfigError::BadIssuer(issuer));
        }
        if args.role_claim.trim().is_empty() {
            return Err(OidcConfigError::NoRoleClaim);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        let provider = Arc::new(Provider {
            issuer,
            audience: audience.to_owned(),
            role_claim: args.role_claim.trim().to_owned(),
            refresh_every: Duration::from_secs(args.jwks_refresh_secs),
            http,
            keys: ArcSwap::from_pointee(KeySet::default()),
            generation: AtomicU64::new(0),
            jwks_uri: Mutex::new(None),
            last_kid_refresh: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
        });
        let first = provider.refresh().await;
        provider.log_refresh(&first);
        tokio::spawn(refresh_loop(Arc::downgrade(&provider), first.is_ok()));
        Ok(Some(provider))
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Whether keys have been loaded (readiness).
    pub fn has_keys(&self) -> bool {
        self.keys.load().loaded
    }

    /// How many times the key set was fetched since start.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Verifies `token` (whose header is `header`) with the key its `kid` names, or `Ok(None)`
    /// when no loaded key has that `kid`.
    pub(super) fn verify(
        &self,
        token: &str,
        header: &Header,
        now: i64,
    ) -> Result<Option<Identity>, AuthError> {
        let kid = header
            .kid
            .as_deref()
            .ok_or(AuthError::Invalid("token names no key id (kid)"))?;
        // The generation is read before the keys: an identity is never tagged newer than its key.
        let generation = self.generation();
        let Some(key) = self.keys.load().by_kid.get(kid).cloned() else {
            return Ok(None);
        };
        if !key.validation.algorithms.contains(&header.alg) {
            return Err(AuthError::Invalid("algorithm not allowed for this key"));
        }
        self.check(token, &key, now, generation).map(Some)
    }

    /// Like [`Provider::verify`], but a `kid` not loaded yet fetches the keys first when the last
    /// such fetch was more than [`UNKNOWN_KID_REFRESH_INTERVAL`] ago.
    pub(super) async fn verify_fetching(
        &self,
        token: &str,
        header: &Header,
        now: i64,
    ) -> Result<Identity, AuthError> {
        if let Some(identity) = self.verify(token, header, now)? {
            return Ok(identity);
        }
        let kid = header.kid.as_deref().unwrap_or_default();
        {
            let _one_fetch = self.fetching.lock().await;
            // Another request may have fetched the keys while this one waited.
            if !self.keys.load().by_kid.contains_key(kid) && self.may_fetch_for_unknown_kid() {
                let outcome = self.refresh().await;
                self.log_refresh(&outcome);
            }
        }
        self.verify(token, header, now)?
            .ok_or(AuthError::Invalid("unknown key id (kid)"))
    }

    fn may_fetch_for_unknown_kid(&self) -> bool {
        let mut last = self
            .last_kid_refresh
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < UNKNOWN_KID_REFRESH_INTERVAL) {
            return false;
        }
        *last = Some(now);
        true
    }

    fn check(
        &self,
        token: &str,
        key: &Key,
        now: i64,
        generation: u64,
    ) -> Result<Identity, AuthError> {
        let data = jsonwebtoken::decode::<ProviderClaims>(token, &key.decoding, &key.validation)
            .map_err(|e| refusal(&e))?;
        let claims = data.claims;
        check_times(claims.nbf, claims.iat, now)?;
        check_subject(&claims.sub)?;
        Ok(Identity {
            sub: claims.sub,
            roles: roles_in(&claims.other, &self.role_claim),
            exp: claims.exp,
            iat: claims.iat,
            generation: Some(generation),
        })
    }

    /// Fetches the discovery document (once, or again after a failed key fetch) and the keys,
    /// and puts them in place.
    pub async fn refresh(&self) -> anyhow::Result<Refreshed> {
        let uri = self
            .jwks_uri
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let uri = match uri {
            Some(uri) => uri,
            None => {
                let uri = self.discover().await?;
                *self.jwks_uri.lock().unwrap_or_else(|e| e.into_inner()) = Some(uri.clone());
                uri
            }
        };
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let set = match self.fetch_keys(&uri).await {
            Ok(set) => set,
            Err(e) => {
                // The provider may have moved its keys: read the discovery document next time.
                *self.jwks_uri.lock().unwrap_or_else(|e| e.into_inner()) = None;
                return Err(e);
            }
        };
        let old = self.keys.load_full();
        let removed_or_changed = old
            .by_kid
            .iter()
            .filter(|(kid, key)| set.by_kid.get(*kid).is_none_or(|new| new.jwk != key.jwk))
            .count();
        let keys = set.by_kid.len();
        if removed_or_changed > 0 {
            // Bumped before the new set is visible, so no identity verified with a removed key
            // can carry the new generation.
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        self.keys.store(Arc::new(set));
        Ok(Refreshed {
            keys,
            removed_or_changed,
        })
    }

    fn log_refresh(&self, outcome: &anyhow::Result<Refreshed>) {
        match outcome {
            Ok(refreshed) => {
                let kids: Vec<String> = self.keys.load().by_kid.keys().cloned().collect();
                tracing::info!(
                    issuer = %self.issuer,
                    keys = refreshed.keys,
                    removed_or_changed = refreshed.removed_or_changed,
                    kids = %kids.join(","),
                    "identity provider keys loaded"
                );
            }
            Err(e) if self.has_keys() => tracing::warn!(
                issuer = %self.issuer,
                error = %format!("{e:#}"),
                "identity provider keys could not be refreshed; the loaded ones stay in use"
            ),
            Err(e) => tracing::warn!(
                issuer = %self.issuer,
                error = %format!("{e:#}"),
                "identity provider keys could not be loaded; not ready until they are"
            ),
        }
    }

    async fn discover(&self) -> anyhow::Result<String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let document: Discovery = serde_json::from_slice(&self.get(&url).await?)
            .map_err(|e| anyhow::anyhow!("discovery document {url}: {e}"))?;
        if document.issuer != self.issuer {
            anyhow::bail!(
                "the discovery document at {url} names the issuer `{}`, not `{}`: set AUTH_OIDC_ISSUER to exactly what the provider names itself",
                document.issuer,
                self.issuer
            );
        }
        Ok(document.jwks_uri)
    }

    async fn fetch_keys(&self, uri: &str) -> anyhow::Result<KeySet> {
        let raw: RawKeySet = serde_json::from_slice(&self.get(uri).await?)
            .map_err(|e| anyhow::anyhow!("key set {uri}: {e}"))?;
        let mut by_kid = HashMap::new();
        for value in raw.keys {
            // A key of a kind this service does not use (or cannot parse) is skipped, not fatal:
            // providers publish encryption keys and new kinds next to their signing keys.
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            if let Some(key) = self.signing_key(jwk) {
                let kid = key.jwk.common.key_id.clone().unwrap_or_default();
                by_kid.insert(kid, Arc::new(key));
            }
        }
        if by_kid.is_empty() {
            anyhow::bail!("the key set at {uri} has no RS256 or ES256 signing key with a kid");
        }
        Ok(KeySet {
            by_kid,
            loaded: true,
        })
    }

    /// `jwk` as a key for RS256 or ES256, or `None` when it is not a signing key of those.
    fn signing_key(&self, jwk: Jwk) -> Option<Key> {
        jwk.common.key_id.as_deref().filter(|kid| !kid.is_empty())?;
        if jwk
            .common
            .public_key_use
            .as_ref()
            .is_some_and(|u| *u != PublicKeyUse::Signature)
        {
            return None;
        }
        let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
            (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
            (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
                if ec.curve == EllipticCurve::P256 =>
            {
                Algorithm::ES256
            }
            _ => return None,
        };
        let decoding = DecodingKey::from_jwk(&jwk).ok()?;
        let mut validation = Validation::new(alg);
        validation.leeway = 0;
        validation.validate_nbf = false; // checked with CLOCK_LEEWAY_SECS by `check_times`
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        Some(Key {
            jwk,
            decoding,
            validation,
        })
    }

    async fn get(&self, url: &str) -> anyhow::Result<Vec<u8>> {
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            anyhow::bail!("GET {url}: {status}");
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            anyhow::bail!("GET {url}: larger than {MAX_DOCUMENT_BYTES} bytes");
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?;
        if body.len() > MAX_DOCUMENT_BYTES {
            anyhow::bail!("GET {url}: larger than {MAX_DOCUMENT_BYTES} bytes");
        }
        Ok(body.to_vec())
    }
}

/// Refreshes on schedule while the provider is in use; retries sooner (1 s doubling up to 30 s)
/// while a fetch fails.
async fn refresh_loop(provider: Weak<Provider>, mut last_ok: bool) {
    let mut retry = Duration::from_secs(1);
    loop {
        let wait = {
            let Some(provider) = provider.upgrade() else {
                return;
            };
            if last_ok {
                retry = Duration::from_secs(1);
                provider.refresh_every
            } else {
                let wait = retry.min(provider.refresh_every);
                retry = (retry * 2).min(MAX_RETRY);
                wait
            }
        };
        tokio::time::sleep(wait).await;
        let Some(provider) = provider.upgrade() else {
            return;
        };
        let outcome = {
            let _one_fetch = provider.fetching.lock().await;
            provider.refresh().await
        };
        last_ok = outcome.is_ok();
        provider.log_refresh(&outcome);
    }
}

/// The roles a provider's token grants: the claim named `name` (or reached by its dotted path),
/// a string or an array of strings. Only `student` and `instructor` count: service calls carry
/// the shared secret's tokens.
fn roles_in(claims: &serde_json::Map<String, serde_json::Value>, name: &str) -> Roles {
    let value = claims.get(name).or_else(|| {
        let mut parts = name.split('.');
        let first = claims.get(parts.next()?)?;
        parts.try_fold(first, |value, part| value.get(part))
    });
    let mut roles = Roles::default();
    let mut add = |s: &str| match s {
        "student" => roles.insert(Role::Student),
        "instructor" => roles.insert(Role::Instructor),
        _ => {}
    };
    match value {
        Some(serde_json::Value::String(s)) => add(s),
        Some(serde_json::Value::Array(items)) => {
            items.iter().filter_map(|v| v.as_str()).for_each(add)
        }
        _ => {}
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn roles_come_from_a_string_an_array_or_a_nested_path() {
        let one = roles_in(&claims(json!({"role": "instructor"})), "role");
        assert!(one.contains(Role::Instructor) && !one.contains(Role::Student));
        let both = roles_in(
            &claims(json!({"role": ["student", "offline_access", "instructor"]})),
            "role",
        );
        assert!(both.contains(Role::Student) && both.contains(Role::Instructor));
        let keycloak = roles_in(
            &claims(json!({"realm_access": {"roles": ["student", "uma_authorization"]}})),
            "realm_access.roles",
        );
        assert!(keycloak.contains(Role::Student));
        let auth0 = roles_in(
            &claims(json!({"https://courses.example.com/roles": ["instructor"]})),
            "https://courses.example.com/roles",
        );
        assert!(auth0.contains(Role::Instructor));
    }

    #[test]
    fn a_provider_cannot_grant_the_service_role() {
        let roles = roles_in(&claims(json!({"role": ["service", "admin"]})), "role");
        assert!(!roles.contains(Role::Service));
        assert!(!roles.contains(Role::Student));
        assert!(roles_in(&claims(json!({"role": 7})), "role").is_empty());
        assert!(roles_in(&claims(json!({})), "role").is_empty());
    }
}
