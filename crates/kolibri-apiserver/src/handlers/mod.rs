//! Request dispatch and the verb handlers, one file per verb.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use kolibri_resources::ResourceDef;
use serde_json::Value;

use crate::identity::{self, UserInfo};
use crate::negotiate::{self, Format};
use crate::request_info::{self, RequestInfo, Target};
use crate::response::{self, Body};
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

mod certificates;
mod create;
mod delete;
mod eviction;
mod get;
mod list;
mod managed_fields;
pub(crate) mod meta;
pub(crate) use certificates::set_requester;
mod nonresource;
mod patch;
mod review;
mod scale;
mod update;
mod watch;
mod write;

/// Bodies larger than this are refused with 413, as upstream's 3 MiB limit.
const MAX_BODY: usize = 3 * 1024 * 1024;
/// Oversized bodies are read and dropped up to this size before answering 413.
const DRAIN_LIMIT: usize = 32 * 1024 * 1024;

/// Parsed query parameters.
#[derive(Default, Debug)]
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        Self(form_urlencoded::parse(q.unwrap_or_default().as_bytes()).into_owned().collect())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    /// `dryRun=All`; any other value is refused as upstream does.
    pub fn dry_run(&self) -> ApiResult<bool> {
        match self.get("dryRun") {
            None => Ok(false),
            Some("All") => Ok(true),
            Some(other) => {
                Err(ApiError::bad_request(format!("Invalid dryRun value: [\"{other}\"]. Only \"All\" is supported")))
            }
        }
    }
}

/// Everything a verb handler needs about one resource request.
pub(crate) struct Ctx {
    pub def: Arc<ResourceDef>,
    pub info: RequestInfo,
    pub query: Query,
    pub format: Format,
    pub user: UserInfo,
    pub content_type: String,
    /// The `User-Agent` header: the default field manager of a write.
    pub user_agent: String,
    pub body: Bytes,
}

impl Ctx {
    pub fn namespace(&self) -> Option<&str> {
        if self.def.namespaced {
            self.info.namespace.as_deref()
        } else {
            None
        }
    }

    pub fn name(&self) -> &str {
        self.info.name.as_deref().unwrap_or_default()
    }
}

impl ApiServer {
    /// Serves one request from an authenticated (or anonymous) `user`.
    pub async fn handle<B>(self: &Arc<Self>, req: Request<B>, user: UserInfo) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match self.dispatch(req, user).await {
            Ok(resp) => resp,
            Err(err) => response::error(&err),
        }
    }

    async fn dispatch<B>(self: &Arc<Self>, req: Request<B>, user: UserInfo) -> ApiResult<Response<Body>>
    where
        B: http_body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_string();
        let query = Query::parse(parts.uri.query());
        let header = |name: http::header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let accept = negotiate::parse_accept(header(http::header::ACCEPT));

        let mut user = user;
        if let Some(token) = header(http::header::AUTHORIZATION).and_then(|a| a.strip_prefix("Bearer ")) {
            if user.is_anonymous() {
                user = self.authenticate_token(token.trim()).await.map_err(|e| {
                    tracing::debug!(error = %e, "bearer token refused");
                    ApiError::unauthorized()
                })?;
            }
        }
        if user.is_anonymous() && !identity::anonymous_allowed(&path) {
            return Err(ApiError::unauthorized());
        }
        let target = request_info::parse(&parts.method, &path, query.flag("watch"));
        let info = match &target {
            Target::Resource(info) => Some(info),
            _ => None,
        };
        if !user.is_anonymous() {
            identity::authorize(&user, info, parts.method.as_str(), &path)?;
        }

        match target {
            Target::Api | Target::Apis | Target::Group(_) | Target::GroupVersion { .. } => {
                if parts.method != Method::GET && parts.method != Method::HEAD {
                    return Err(ApiError::method_not_allowed(
                        "the server does not allow this method on the requested resource",
                    ));
                }
                let if_none_match = header(http::header::IF_NONE_MATCH).map(str::to_string);
                self.discovery().serve(&target, &accept, if_none_match.as_deref())
            }
            Target::NonResource => {
                nonresource::serve(self, &parts.method, &path, &query, &accept, header(http::header::IF_NONE_MATCH))
                    .await
            }
            Target::Resource(info) => {
                let registry = self.registry();
                let def = registry
                    .get(&info.group, &info.version, &info.resource)
                    .cloned()
                    .ok_or_else(ApiError::not_found_path)?;
                let content_type = negotiate::content_type(header(http::header::CONTENT_TYPE));
                let body = read_body(body).await?;
                let format = negotiate::choose(&accept, def.protobuf)?;
                let user_agent = header(http::header::USER_AGENT).unwrap_or_default().to_string();
                let ctx = Ctx { def, info, query, format, user, content_type, user_agent, body };
                self.resource(ctx).await
            }
        }
    }

    async fn resource(self: &Arc<Self>, ctx: Ctx) -> ApiResult<Response<Body>> {
        let def = &ctx.def;
        // A cluster-scoped resource has no namespaced path (except namespaces themselves).
        if !def.namespaced && ctx.info.namespace.is_some() && def.plural != "namespaces" {
            return Err(ApiError::not_found_path());
        }
        let allowed_verbs = match &ctx.info.subresource {
            Some(sub) => def.subresource(sub).map(|s| s.verbs.clone()).ok_or_else(ApiError::not_found_path)?,
            None => def.verbs.clone(),
        };
        if !allowed_verbs.iter().any(|v| v == ctx.info.verb) {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
        let sub = ctx.info.subresource.clone();
        let mut resp = match (ctx.info.verb, sub.as_deref()) {
            ("get", None | Some("status")) => get::get(self, &ctx).await,
            ("get", Some("scale")) => scale::get(self, &ctx).await,
            ("list", _) => list::list(self, &ctx).await,
            ("watch", _) => watch::watch(self, &ctx).await,
            ("create", None) if review::is_review(def) => review::create(self, &ctx),
            ("create", None) => create::create(self, &ctx).await,
            ("create", Some("binding")) => create::binding(self, &ctx).await,
            ("create", Some("eviction")) => eviction::create(self, &ctx).await,
            ("update", Some("approval")) => certificates::update_approval(self, &ctx).await,
            ("create", Some("token")) => crate::serviceaccount::request::create(self, &ctx).await,
            ("update", None | Some("status") | Some("finalize")) => update::update(self, &ctx).await,
            ("update", Some("scale")) | ("patch", Some("scale")) => scale::write(self, &ctx).await,
            ("patch", None | Some("status")) => patch::patch(self, &ctx).await,
            ("delete", None) => delete::delete(self, &ctx).await,
            ("deletecollection", None) => delete::delete_collection(self, &ctx).await,
            _ => Err(ApiError::method_not_allowed("the server does not allow this method on the requested resource")),
        }?;
        // Every request to a deprecated version of a custom resource says so.
        if let Some(warning) = def.custom.as_ref().and_then(|c| c.deprecation_warning.as_ref()) {
            response::add_warnings(&mut resp, std::slice::from_ref(warning));
        }
        Ok(resp)
    }
}

async fn read_body<B>(body: B) -> ApiResult<Bytes>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut body = std::pin::pin!(body);
    let mut buf = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("failed to read the request body: {}", e.into())))?;
        let Ok(data) = frame.into_data() else { continue };
        total += data.len();
        if total <= MAX_BODY {
            buf.extend_from_slice(&data);
        } else if total > DRAIN_LIMIT {
            break;
        } else {
            // Keep reading (and dropping) a moderately oversized body, so the client,
            // still sending, gets to read the 413 instead of stalling.
            buf.clear();
        }
    }
    if total > MAX_BODY {
        return Err(ApiError::too_large(format!("Request entity too large: limit is {MAX_BODY}")));
    }
    Ok(buf.freeze())
}

/// Decodes a request body (JSON, YAML or protobuf) into JSON.
pub(crate) fn decode_body(ctx: &Ctx) -> ApiResult<Value> {
    if ctx.body.is_empty() {
        return Err(ApiError::bad_request("the body of the request was empty"));
    }
    match ctx.content_type.as_str() {
        "" | "application/json" | "*/*" => serde_json::from_slice(&ctx.body)
            .map_err(|e| ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))),
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let yaml: serde_yaml::Value = serde_yaml::from_slice(&ctx.body)
                .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))?;
            serde_json::to_value(yaml).map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))
        }
        negotiate::PROTOBUF if ctx.def.protobuf => crate::protobuf::decode_as(&ctx.body, &ctx.def.api_version(), &ctx.def.kind)
            .map_err(|e| match e {
                crate::protobuf::ProtobufError::UnknownKind { .. } => ApiError::unsupported_media_type(e.to_string()),
                other => ApiError::bad_request(format!("failed to decode protobuf body: {other}")),
            }),
        _ => Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml{}",
            if ctx.def.protobuf { ", application/vnd.kubernetes.protobuf" } else { "" },
        ))),
    }
}

/// A response carrying one object in wire form.
pub(crate) fn object_response(ctx: &Ctx, code: StatusCode, wire: Bytes) -> ApiResult<Response<Body>> {
    match ctx.format.shape {
        negotiate::Shape::Object => Ok(response::encoded(code, ctx.format, wire)),
        negotiate::Shape::Table | negotiate::Shape::Metadata => {
            let obj: Value = serde_json::from_slice(&wire).map_err(ApiError::internal)?;
            let out = match ctx.format.shape {
                negotiate::Shape::Table => crate::table::table(&ctx.def, &[obj], None, &ctx.query, true),
                _ => crate::table::partial_metadata(&obj),
            };
            Ok(response::json_value(code, &out))
        }
    }
}

/// The stored object at `key`, or 404 naming it as upstream does.
pub(crate) async fn read_current(
    server: &ApiServer,
    def: &ResourceDef,
    key: &str,
    name: &str,
) -> ApiResult<kolibri_store::KeyValue> {
    server
        .store
        .get(key)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(&def.group, &def.plural, name))
}

/// Runs the create pipeline (without HTTP) for objects the server makes itself.
pub(crate) async fn prepare_create_internal(
    server: &Arc<ApiServer>,
    def: &ResourceDef,
    obj: Value,
) -> ApiResult<Value> {
    let (mut obj, _) = def.strategy.normalize(obj).map_err(|e| ApiError::bad_request(e.to_string()))?;
    meta::prepare_create(&mut obj, def.strategy.sets_generation())?;
    def.strategy.default(&mut obj);
    def.strategy.prepare_for_create(&mut obj);
    let errors = def.strategy.validate_create(&obj);
    if !errors.is_empty() {
        return Err(ApiError::invalid(&def.group, &def.kind, meta::name(&obj), &errors));
    }
    server.admit_create(def, &mut obj).await?;
    Ok(obj)
}
