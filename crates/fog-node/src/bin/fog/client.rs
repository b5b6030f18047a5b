//! A client of a running node's HTTP API.

use std::net::SocketAddr;
use std::time::Duration;

use fog_node::api::types::ApiError;
use fog_node::Config;

/// A client of a running node's HTTP API, found through the same config as `fog node`.
pub struct NodeClient {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl NodeClient {
    /// A client of the node that the given config describes.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let token_path = config.data_dir.join(fog_node::token::TOKEN_FILE);
        let token = std::fs::read_to_string(&token_path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read the API token {}: {e} (has a node run with this data dir?)",
                token_path.display()
            )
        })?;
        Ok(Self::new(config.api.addr, token.trim()))
    }

    pub fn new(addr: SocketAddr, token: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        Self { base: format!("http://{addr}"), token: token.to_owned(), agent }
    }

    pub fn get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let request =
            self.agent.get(format!("{}{path}", self.base)).header("Authorization", format!("Bearer {}", self.token));
        self.answer(request.call())
    }

    pub fn post(&self, path: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let request =
            self.agent.post(format!("{}{path}", self.base)).header("Authorization", format!("Bearer {}", self.token));
        self.answer(request.send_json(body))
    }

    pub fn put(&self, path: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let request =
            self.agent.put(format!("{}{path}", self.base)).header("Authorization", format!("Bearer {}", self.token));
        self.answer(request.send_json(body))
    }

    /// A route that answers raw bytes.
    pub fn get_bytes(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let base = &self.base;
        let mut response = self
            .agent
            .get(format!("{base}{path}"))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .map_err(|e| anyhow::anyhow!("no node answers at {base}: {e} (start one with `fog node`)"))?;
        if !response.status().is_success() {
            let err: ApiError = response.body_mut().read_json()?;
            anyhow::bail!("{}", err.message);
        }
        Ok(response.body_mut().with_config().limit(128 << 20).read_to_vec()?)
    }

    fn answer(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<serde_json::Value> {
        let base = &self.base;
        let mut response =
            response.map_err(|e| anyhow::anyhow!("no node answers at {base}: {e} (start one with `fog node`)"))?;
        let status = response.status();
        if status == ureq::http::StatusCode::NO_CONTENT {
            return Ok(serde_json::Value::Null);
        }
        let body: serde_json::Value = response.body_mut().read_json()?;
        if !status.is_success() {
            let err: ApiError = serde_json::from_value(body)?;
            anyhow::bail!("{}", err.message);
        }
        Ok(body)
    }
}
