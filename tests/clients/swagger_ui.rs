//! Swagger UI, served by the server at `/docs`, driven in headless Chromium.

use std::{fs::File, io::Read};

use crate::{
    run::{npm_run_against, screenshot_path},
    support::TestApp,
};

#[tokio::test]
async fn swagger_ui_in_chromium_authorizes_and_lists_the_users_tasks() {
    let app = TestApp::spawn().await;
    let screenshot = screenshot_path();
    let _ = std::fs::remove_file(&screenshot);
    let run = npm_run_against(
        &app,
        "swagger-ui",
        &[("SCREENSHOT", screenshot.to_str().unwrap())],
    )
    .await;
    assert!(run.ok, "Swagger UI in Chromium failed:\n{}", run.output);
    assert!(
        run.output
            .contains("ok - Execute: the page shows 200 and a body with"),
        "{}",
        run.output
    );
    let mut magic = [0u8; 8];
    File::open(&screenshot)
        .and_then(|mut f| f.read_exact(&mut magic))
        .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", screenshot.display()));
    assert_eq!(&magic, b"\x89PNG\r\n\x1a\n", "{}", screenshot.display());
    eprintln!("Swagger UI screenshot: {}", screenshot.display());
}
