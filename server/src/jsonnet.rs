//! Jsonnet mappers: small programs an operator writes to shape data Ward hands to others (the
//! OpenID Connect provider's custom claims). Evaluated with jrsonnet on a blocking thread (its
//! values are not `Send`), with a time limit and jrsonnet's stack limit; the inputs arrive as
//! `std.extVar(name)`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use jrsonnet_evaluator::State;
use jrsonnet_evaluator::manifest::JsonFormat;
use jrsonnet_evaluator::trace::PathResolver;
use serde_json::Value;
use url::Url;

/// How long one evaluation may take before the request gives up on it.
const TIME_LIMIT: Duration = Duration::from_secs(2);

/// A mapper's source, loaded once.
#[derive(Debug, Clone)]
pub struct Mapper {
    name: Arc<str>,
    code: Arc<str>,
}

impl Mapper {
    /// Loads a mapper from `file://`, `base64://`, or `http(s)://` (fetched once, at start), and
    /// checks that it parses.
    pub async fn fetch(url: &Url) -> Result<Self, String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Self::load(url);
        }
        let fetched = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| error.to_string())?
            .get(url.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| format!("cannot fetch {url}: {error}"))?;
        let code = fetched
            .text()
            .await
            .map_err(|error| format!("cannot read {url}: {error}"))?;
        Self::parse(url, code)
    }

    /// Loads a mapper from `file://` or `base64://`, and checks that it parses.
    pub fn load(url: &Url) -> Result<Self, String> {
        let code = match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| format!("{url} is not a file path"))?;
                std::fs::read_to_string(&path)
                    .map_err(|error| format!("cannot read {}: {error}", path.display()))?
            }
            "base64" => {
                let encoded = url.as_str().trim_start_matches("base64://");
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded))
                    .map_err(|error| format!("{url} is not base64: {error}"))?;
                String::from_utf8(bytes).map_err(|_| format!("{url} is not UTF-8 text"))?
            }
            other => {
                return Err(format!(
                    "a mapper must be file://, base64:// or http(s)://, not {other}://"
                ));
            }
        };
        Self::parse(url, code)
    }

    fn parse(url: &Url, code: String) -> Result<Self, String> {
        jrsonnet_evaluator::parser::parse(
            &code,
            &jrsonnet_evaluator::parser::ParserSettings {
                source: jrsonnet_evaluator::parser::Source::new_virtual(
                    url.to_string().into(),
                    code.clone().into(),
                ),
            },
        )
        .map_err(|error| format!("{url} is not valid Jsonnet: {error}"))?;
        Ok(Self {
            name: url.to_string().into(),
            code: code.into(),
        })
    }

    /// Evaluates the mapper with `vars` as its `std.extVar`s; the error is Jsonnet's message.
    pub async fn evaluate(&self, vars: Vec<(&'static str, Value)>) -> Result<Value, String> {
        self.run(vars, None).await
    }

    /// Evaluates a program that is a function (`function(ctx) {...}`, Kratos's web hook
    /// bodies) with `argument` as its top-level argument.
    pub async fn call(&self, argument: Value) -> Result<Value, String> {
        self.run(Vec::new(), Some(argument)).await
    }

    async fn run(
        &self,
        vars: Vec<(&'static str, Value)>,
        argument: Option<Value>,
    ) -> Result<Value, String> {
        let (name, code) = (self.name.clone(), self.code.clone());
        let task =
            tokio::task::spawn_blocking(move || evaluate(&name, &code, &vars, argument.as_ref()));
        match tokio::time::timeout(TIME_LIMIT, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(error)) => Err(format!("the evaluation failed: {error}")),
            Err(_) => Err(format!(
                "the evaluation took longer than {} s",
                TIME_LIMIT.as_secs()
            )),
        }
    }
}

fn evaluate(
    name: &str,
    code: &str,
    vars: &[(&'static str, Value)],
    argument: Option<&Value>,
) -> Result<Value, String> {
    let context = jrsonnet_stdlib::ContextInitializer::new(PathResolver::new_cwd_fallback());
    for (var, value) in vars {
        // JSON is Jsonnet.
        context
            .add_ext_code(var, value.to_string())
            .map_err(|error| error.to_string())?;
    }
    let mut builder = State::builder();
    builder.context_initializer(context);
    let state = builder.build();
    let mut value = state
        .evaluate_snippet(name, code)
        .map_err(|error| error.to_string())?;
    if let Some(argument) = argument {
        // JSON is Jsonnet: the argument is read as a program.
        let argument = state
            .evaluate_snippet("<argument>", argument.to_string())
            .map_err(|error| error.to_string())?;
        value = jrsonnet_evaluator::apply_tla(state.clone(), &vec![argument], value)
            .map_err(|error| error.to_string())?;
    }
    let text = value
        .manifest(JsonFormat::minify(true))
        .map_err(|error| error.to_string())?;
    serde_json::from_str(&text).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper(code: &str) -> Mapper {
        let encoded = base64::engine::general_purpose::STANDARD.encode(code);
        Mapper::load(&Url::parse(&format!("base64://{encoded}")).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn functions_get_their_argument() {
        let body = mapper("function(ctx) { user: ctx.identity.id, cancelled: false }")
            .call(serde_json::json!({"identity": {"id": "i-1"}}))
            .await
            .unwrap();
        assert_eq!(body, serde_json::json!({"user": "i-1", "cancelled": false}));
        let error = mapper("function(ctx) error 'cancel'")
            .call(serde_json::json!({}))
            .await
            .unwrap_err();
        assert!(error.contains("cancel"), "{error}");
    }

    #[tokio::test]
    async fn maps_ext_vars_to_json() {
        let mapped = mapper("local ctx = std.extVar('ctx'); { team: ctx.traits.team, n: 1 + 1 }")
            .evaluate(vec![(
                "ctx",
                serde_json::json!({"traits": {"team": "red"}}),
            )])
            .await
            .unwrap();
        assert_eq!(mapped, serde_json::json!({"team": "red", "n": 2}));
    }

    #[tokio::test]
    async fn errors_carry_jsonnet_messages() {
        let error = mapper("error 'no team'")
            .evaluate(Vec::new())
            .await
            .unwrap_err();
        assert!(error.contains("no team"), "{error}");
        // Unbounded recursion stops at the stack limit instead of crashing the process.
        let error = mapper("local f(x) = f(x + 1); f(0)")
            .evaluate(Vec::new())
            .await
            .unwrap_err();
        assert!(!error.is_empty());
        // `{}` loads; a program that does not parse is refused when loaded.
        assert!(Mapper::load(&Url::parse("base64://e30K").unwrap()).is_ok());
        let broken = base64::engine::general_purpose::STANDARD.encode("{ a: ");
        assert!(Mapper::load(&Url::parse(&format!("base64://{broken}")).unwrap()).is_err());
    }
}
