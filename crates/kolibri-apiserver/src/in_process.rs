//! A client transport inside the server process: a `tower::Service` that hands each request
//! to [`ApiServer::handle`] as one fixed user, with no TCP, TLS or HTTP framing. Controllers
//! get a `kube::Client` over it (`kube::Client::new(server.in_process("name"), "default")`);
//! responses stream exactly as over the network, so watches deliver events as they commit
//! and end when the server shuts down.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};

use crate::identity::UserInfo;
use crate::response::Body;
use crate::ApiServer;

/// A `tower::Service` calling the API server in process as one component.
#[derive(Clone)]
pub struct InProcess {
    server: Arc<ApiServer>,
    user: UserInfo,
    user_agent: http::HeaderValue,
}

impl InProcess {
    /// The user every request of this transport is made as.
    pub fn user(&self) -> &UserInfo {
        &self.user
    }
}

impl ApiServer {
    /// A transport whose requests are made as `system:kolibri:<component>`, a built-in
    /// identity of the server's own components.
    pub fn in_process(self: &Arc<Self>, component: &str) -> InProcess {
        let user = UserInfo {
            name: format!("system:kolibri:{component}"),
            uid: String::new(),
            groups: vec!["system:authenticated".into()],
            extra: Default::default(),
        };
        // The user agent names the field manager of the component's writes.
        let user_agent = http::HeaderValue::from_str(&format!("kolibri-{component}"))
            .unwrap_or_else(|_| http::HeaderValue::from_static("kolibri"));
        InProcess { server: self.clone(), user, user_agent }
    }
}

impl<B> tower::Service<Request<B>> for InProcess
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if !req.headers().contains_key(http::header::USER_AGENT) {
            req.headers_mut().insert(http::header::USER_AGENT, self.user_agent.clone());
        }
        let server = self.server.clone();
        let user = self.user.clone();
        Box::pin(async move { Ok(server.handle(req, user).await) })
    }
}
