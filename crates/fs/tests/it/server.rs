//! A store in a temp dir, served by a tiny actix-web storage route on a random
//! port — the same calls the real server's route makes.

use std::net::TcpListener;

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use coffer_fs::{FsConfig, FsStore, StorageAccess, TransferError, parse_range};
use tempfile::TempDir;

pub struct TestStore {
    pub store: FsStore,
    pub url: String,
    /// Kept alive for the test's duration; removed on drop.
    pub dir: TempDir,
}

impl TestStore {
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// Opens a second store on the same data dir, as a restarted process would.
    pub fn reopen(&self) -> FsStore {
        FsStore::open(FsConfig {
            data_dir: self.data_dir(),
            public_url: self.url.clone(),
        })
        .expect("reopen store")
    }
}

pub fn start() -> TestStore {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FsStore::open(FsConfig {
        data_dir: dir.path().join("data"),
        public_url: url.clone(),
    })
    .expect("open store");
    let served = store.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(served.clone()))
                    .route("/storage/{tail:.*}", web::to(storage))
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .expect("listen")
            .run();
            server.await
        })
    });
    TestStore { store, url, dir }
}

async fn storage(req: HttpRequest, body: web::Payload, store: web::Data<FsStore>) -> HttpResponse {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let access = match store.authorize(
        req.method().as_str(),
        req.path(),
        req.query_string(),
        header,
    ) {
        Ok(access) => access,
        Err(refused) => return answer(refused.status(), refused.code()),
    };
    match access {
        StorageAccess::Put(access) => match store.serve_put(access, body).await {
            Ok(stored) => HttpResponse::Ok()
                .insert_header(("etag", stored.etag))
                .finish(),
            Err(failed) => transfer_error(&failed),
        },
        StorageAccess::Get(access) => {
            let range = header("range").and_then(parse_range);
            match store.serve_get(access, range).await {
                Ok(object) => {
                    let mut response = HttpResponse::build(status(object.status));
                    for (name, value) in object.headers {
                        response.insert_header((name, value));
                    }
                    response.body(SizedStream::new(object.content_length, object.body))
                }
                Err(failed) => transfer_error(&failed),
            }
        }
    }
}

fn transfer_error(failed: &TransferError) -> HttpResponse {
    let mut response = HttpResponse::build(status(failed.status()));
    if let TransferError::RangeNotSatisfiable { size } = failed {
        response.insert_header(("content-range", format!("bytes */{size}")));
    }
    response.body(failed.code())
}

fn answer(code: u16, body: &'static str) -> HttpResponse {
    HttpResponse::build(status(code)).body(body)
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
