//! A test OTLP receiver on 127.0.0.1 that speaks the real protocol: gRPC
//! (`opentelemetry.proto.collector.trace.v1.TraceService/Export`, a tonic server) and
//! HTTP/protobuf (`POST /v1/traces`), both decoded with the official `opentelemetry-proto`
//! types. It serves on a Tokio runtime in a background thread until dropped.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;

type Store = Arc<Mutex<Vec<ResourceSpans>>>;

/// An OTLP trace receiver; every request it accepts is kept for the test to inspect.
pub struct Receiver {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    received: Store,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    /// Binds 127.0.0.1:0 for gRPC and for HTTP and serves both on a background thread.
    pub fn start() -> Receiver {
        let grpc = TcpListener::bind("127.0.0.1:0").expect("bind the gRPC port");
        let http = TcpListener::bind("127.0.0.1:0").expect("bind the HTTP port");
        let grpc_addr = grpc.local_addr().unwrap();
        let http_addr = http.local_addr().unwrap();
        grpc.set_nonblocking(true).unwrap();
        http.set_nonblocking(true).unwrap();
        let received = Store::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let store = received.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("start the receiver's runtime");
            runtime.block_on(async move {
                let grpc = tokio::net::TcpListener::from_std(grpc).unwrap();
                let http = tokio::net::TcpListener::from_std(http).unwrap();
                let grpc_server = tonic::transport::Server::builder()
                    .add_service(TraceServiceServer::new(GrpcTraces {
                        store: store.clone(),
                    }))
                    .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(grpc));
                tokio::select! {
                    result = grpc_server => result.expect("gRPC receiver failed"),
                    () = serve_http(http, store) => {}
                    _ = stopped => {}
                }
            });
        });
        Receiver {
            grpc_addr,
            http_addr,
            received,
            stop: Some(stop),
        }
    }

    /// Every `ResourceSpans` received so far, over both protocols, in arrival order.
    pub fn resource_spans(&self) -> Vec<ResourceSpans> {
        self.received.lock().unwrap().clone()
    }

    /// Polls until at least `count` spans arrived or `timeout` passed; returns what arrived.
    pub fn wait_for_spans(&self, count: usize, timeout: Duration) -> Vec<ResourceSpans> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.resource_spans();
            if span_count(&received) >= count || Instant::now() >= deadline {
                return received;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The number of spans in some `ResourceSpans`.
fn span_count(resource_spans: &[ResourceSpans]) -> usize {
    resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

struct GrpcTraces {
    store: Store,
}

#[tonic::async_trait]
impl TraceService for GrpcTraces {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let request = request.into_inner();
        self.store.lock().unwrap().extend(request.resource_spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// OTLP/HTTP: `POST /v1/traces` with an `application/x-protobuf` body.
async fn serve_http(listener: tokio::net::TcpListener, store: Store) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let store = store.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let store = store.clone();
                async move { Ok::<_, std::convert::Infallible>(handle_http(request, store).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle_http(request: Request<Incoming>, store: Store) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: Vec<u8>| {
        Response::builder()
            .status(status)
            .header("content-type", "application/x-protobuf")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    if request.method() != hyper::Method::POST || request.uri().path() != "/v1/traces" {
        return reply(StatusCode::NOT_FOUND, Vec::new());
    }
    let protobuf = request
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/x-protobuf"));
    if !protobuf {
        return reply(StatusCode::UNSUPPORTED_MEDIA_TYPE, Vec::new());
    }
    let Ok(body) = request.into_body().collect().await else {
        return reply(StatusCode::BAD_REQUEST, Vec::new());
    };
    match ExportTraceServiceRequest::decode(body.to_bytes()) {
        Ok(export) => {
            store.lock().unwrap().extend(export.resource_spans);
            reply(
                StatusCode::OK,
                ExportTraceServiceResponse::default().encode_to_vec(),
            )
        }
        Err(_) => reply(StatusCode::BAD_REQUEST, Vec::new()),
    }
}
