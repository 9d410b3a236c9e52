//! A real OpenID Connect provider for the tests: `tests/oidc-provider/` (panva's certified
//! `oidc-provider` on Node.js) run as a process, user tokens obtained through its
//! authorization-code flow with PKCE as a browser would (authorize, sign in, code, token), and its
//! test controls (key rotation, key-set fetch count, the private keys for signing tokens a real
//! provider would not issue).

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{StatusCode, header};
use serde_json::Value;
use shared_types::Role;
use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::Duration,
};

/// The audience the provider's tokens name unless another resource is asked for.
pub const AUDIENCE: &str = "https://courses.example.com/api";

/// The redirect URI the test clients are registered with (never visited: the code is read from
/// the redirect).
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// How the provider is started.
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    /// 0: any free port.
    pub port: u16,
    pub role_claim: String,
    /// Roles always as an array, even a single one.
    pub role_array: bool,
    /// Redirect URIs the clients are registered with besides [`REDIRECT_URI`].
    pub redirect_uris: Vec<String>,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        ProviderOptions {
            port: 0,
            role_claim: "role".into(),
            role_array: false,
            redirect_uris: Vec::new(),
        }
    }
}

/// One of the provider's signing keys, private half included.
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub pem: String,
    /// The public half as the provider publishes it, in PEM (SPKI).
    pub public_pem: String,
}

impl SigningKey {
    pub fn encoding_key(&self) -> EncodingKey {
        match self.alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(self.pem.as_bytes()).expect("RSA key"),
            _ => EncodingKey::from_ec_pem(self.pem.as_bytes()).expect("EC key"),
        }
    }

    /// `claims` signed with this key, naming it as `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding_key()).expect("signed")
    }
}

/// The provider's process; stopped when dropped.
#[derive(Debug)]
pub struct TestProvider {
    child: Mutex<Option<Child>>,
    pub issuer: String,
    pub port: u16,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc-provider")
}

/// Installs the provider's npm packages (from the lock file) if they are missing.
fn ensure_installed() {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _once = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if dir()
        .join("node_modules/oidc-provider/package.json")
        .exists()
    {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir())
        .status()
        .expect("npm runs (Node.js and npm are needed for the identity provider tests)");
    assert!(status.success(), "npm ci in {}", dir().display());
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl TestProvider {
    pub async fn start() -> TestProvider {
        TestProvider::start_with(ProviderOptions::default()).await
    }

    pub async fn start_with(options: ProviderOptions) -> TestProvider {
        ensure_installed();
        let mut command = Command::new("node");
        command
            .arg(dir().join("server.mjs"))
            .args(["--port", &options.port.to_string()])
            .args(["--audience", AUDIENCE])
            .args(["--role-claim", &options.role_claim])
            .args(["--redirect-uri", REDIRECT_URI])
            .args(
                options
                    .redirect_uris
                    .iter()
                    .flat_map(|uri| ["--redirect-uri", uri.as_str()]),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if options.role_array {
            command.arg("--role-array");
        }
        let mut child = command.spawn().expect("node starts");
        let stdout = child.stdout.take().expect("stdout");
        let (first, line) = tokio::sync::oneshot::channel();
        // Reads the first line, then drains the rest for as long as the process runs (a closed
        // pipe would make the provider's next write fail).
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = first.send(reader.read_line(&mut line).map(|_| line));
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = tokio::time::timeout(Duration::from_secs(30), line)
            .await
            .expect("the provider starts within 30 s")
            .expect("a line")
            .expect("read");
        let issuer = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("unexpected first line from the provider: {line:?}"))
            .to_owned();
        let port = issuer
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in issuer");
        TestProvider {
            child: Mutex::new(Some(child)),
            issuer,
            port,
        }
    }

    /// Stops the provider (an outage).
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn http() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A connection per request: a redirect's body is never read, and a connection left
            // with one unread would be reset under the next request.
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client")
    }

    /// An access token for `user` with `roles`, through the authorization-code flow with PKCE of
    /// the `storefront` client (RS256).
    pub async fn token(&self, user: &str, roles: &[Role]) -> String {
        self.token_with(user, roles, "storefront", AUDIENCE).await
    }

    /// The same for any client (`storefront-es` signs with ES256) and resource (the audience).
    pub async fn token_with(
        &self,
        user: &str,
        roles: &[Role],
        client_id: &str,
        resource: &str,
    ) -> String {
        let http = TestProvider::http();
        let mut cookies = BTreeMap::new();
        let verifier = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let challenge = {
            use sha2::Digest;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(verifier.as_bytes()))
        };
        let state = uuid::Uuid::new_v4().simple().to_string();
        let authorize = reqwest::Url::parse_with_params(
            &format!("{}/auth", self.issuer),
            &[
                ("client_id", client_id),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT_URI),
                ("scope", "openid"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("state", &state),
                ("resource", resource),
            ],
        )
        .expect("url");
        let login_page = self
            .follow(&mut cookies, http.get(authorize))
            .await
            .expect("redirect to the sign-in page");
        let page = self.send(&mut cookies, http.get(&login_page)).await;
        assert_eq!(page.status(), StatusCode::OK, "sign-in page");
        let roles = roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let back = self
            .follow(
                &mut cookies,
                http.post(format!("{login_page}/login"))
                    .form(&[("login", user), ("roles", &roles)]),
            )
            .await
            .expect("signed in");
        let callback = self
            .follow(&mut cookies, http.get(&back))
            .await
            .expect("redirect to the client");
        let callback = reqwest::Url::parse(&callback).expect("callback url");
        let query: BTreeMap<_, _> = callback.query_pairs().into_owned().collect();
        assert_eq!(query.get("state"), Some(&state), "state round-trips");
        let code = query.get("code").expect("an authorization code");
        let response = http
            .post(format!("{}/token", self.issuer))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", client_id),
                ("code_verifier", &verifier),
                ("resource", resource),
            ])
            .send()
            .await
            .expect("token endpoint");
        assert_eq!(response.status(), StatusCode::OK, "token endpoint");
        let body: Value = response.json().await.expect("json");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    async fn send(
        &self,
        cookies: &mut BTreeMap<String, String>,
        request: reqwest::RequestBuilder,
    ) -> reqwest::Response {
        let jar = cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = if jar.is_empty() {
            request
        } else {
            request.header(header::COOKIE, jar)
        };
        let response = request.send().await.expect("provider answers");
        for value in response.headers().get_all(header::SET_COOKIE) {
            let pair = value.to_str().unwrap_or("").split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    cookies.remove(name.trim());
                } else {
                    cookies.insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
        response
    }

    /// Sends `request` and answers the absolute URL it redirects to.
    async fn follow(
        &self,
        cookies: &mut BTreeMap<String, String>,
        request: reqwest::RequestBuilder,
    ) -> Option<String> {
        let response = self.send(cookies, request).await;
        let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
        Some(if location.starts_with('/') {
            format!("{}{location}", self.issuer)
        } else {
            location.to_owned()
        })
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request =
            TestProvider::http().request(method, format!("{}/_admin/{path}", self.issuer));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("provider answers");
        assert!(response.status().is_success(), "{path}");
        response.json().await.expect("json")
    }

    /// New signing keys (RSA and EC) become the ones tokens are signed with; the old stay
    /// published. Answers the published kids, newest first.
    pub async fn rotate(&self) -> Vec<String> {
        kids(&self.admin(reqwest::Method::POST, "rotate", None).await)
    }

    /// Only the newest keys stay published.
    pub async fn retire(&self) -> Vec<String> {
        kids(&self.admin(reqwest::Method::POST, "retire", None).await)
    }

    /// How often the key set (`/jwks`) was fetched.
    pub async fn jwks_requests(&self) -> u64 {
        self.admin(reqwest::Method::GET, "stats", None).await["jwks_requests"]
            .as_u64()
            .expect("count")
    }

    /// The published signing keys with their private halves, newest first.
    pub async fn keys(&self) -> Vec<SigningKey> {
        let body = self.admin(reqwest::Method::GET, "keys", None).await;
        body["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| SigningKey {
                kid: k["kid"].as_str().expect("kid").to_owned(),
                alg: match k["alg"].as_str() {
                    Some("RS256") => Algorithm::RS256,
                    _ => Algorithm::ES256,
                },
                pem: k["pem"].as_str().expect("pem").to_owned(),
                public_pem: k["public_pem"].as_str().expect("public_pem").to_owned(),
            })
            .collect()
    }

    /// The newest key for `alg`.
    pub async fn key(&self, alg: Algorithm) -> SigningKey {
        self.keys()
            .await
            .into_iter()
            .find(|k| k.alg == alg)
            .expect("a key for the algorithm")
    }

    /// Claims as this provider puts them in an access token for `user`, valid for an hour, with
    /// `extra` merged in (and overriding).
    pub fn claims(&self, user: &str, extra: Value) -> Value {
        let now = chrono::Utc::now().timestamp();
        let mut claims = serde_json::json!({
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": user,
            "role": "student",
            "iat": now,
            "exp": now + 3600,
            "client_id": "storefront",
        });
        if let (Some(base), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                base.insert(k.clone(), v.clone());
            }
        }
        claims
    }
}

fn kids(body: &Value) -> Vec<String> {
    body["kids"]
        .as_array()
        .expect("kids")
        .iter()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect()
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        self.stop();
    }
}
