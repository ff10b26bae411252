//! `coffer request create|ls|close`: upload requests, for people outside
//! the tenant to send files into a folder (docs/sharing.md).

use coffer_api::{UploadRequestBody, UploadRequestDto};
use coffer_domain::ContentType;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::RequestCommand;
use crate::commands::{connect, print_line, remote};
use crate::exit::Failure;
use crate::links::expiry;
use crate::settings::{Dirs, Settings};

pub(crate) async fn run(
    action: RequestCommand,
    settings: &Settings,
    dirs: Dirs,
) -> Result<(), Failure> {
    match action {
        RequestCommand::Create {
            common,
            folder,
            expires,
            max_files,
            max_size,
            types,
            message,
        } => {
            let path = remote(&folder)?.as_folder()?;
            let allowed_types = types
                .into_iter()
                .map(|t| {
                    ContentType::new(t.as_str())
                        .map_err(|e| Failure::usage(format!("--type {t:?}: {}", e.reason)))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let body = UploadRequestBody {
                path,
                expires_at: expiry(&expires, OffsetDateTime::now_utc())?,
                max_files,
                max_size,
                allowed_types,
                message,
            };
            let ctx = connect(&common, settings, dirs)?;
            let request = ctx.client.create_upload_request(&body).await?;
            let url = request.url.clone().unwrap_or_default();
            print_line(ctx.json, &request, &url);
            Ok(())
        }
        RequestCommand::Ls { common } => {
            let ctx = connect(&common, settings, dirs)?;
            let requests = ctx.client.upload_requests().await?;
            if requests.is_empty() && !ctx.json {
                println!("no upload requests");
            }
            for request in &requests {
                print_line(ctx.json, request, &summary(request));
            }
            Ok(())
        }
        RequestCommand::Close { common, id } => {
            let id: Uuid = id
                .parse()
                .map_err(|_| Failure::usage(format!("id: {id:?} is not a request id")))?;
            let ctx = connect(&common, settings, dirs)?;
            let closed = ctx.client.close_upload_request(id).await?;
            print_line(ctx.json, &closed, &format!("closed upload request {id}"));
            Ok(())
        }
    }
}

fn summary(request: &UploadRequestDto) -> String {
    let expires = request.expires_at.format(&Rfc3339).unwrap_or_default();
    format!(
        "{}  {:<7} {}/{} files into coffer:{}, expires {expires}",
        request.id,
        request.state,
        request.files_received,
        request.max_files,
        request.path.as_str()
    )
}
