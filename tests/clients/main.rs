//! The generated clients and the browser, each against the real server: the TypeScript
//! client, the Python client and Swagger UI in headless Chromium. Besides PostgreSQL they
//! need node and npm (with `clients/typescript`'s packages installed), a Python venv in
//! `target/python-venv` and Chromium; `scripts/test` sets all of them up (see
//! `scripts/clients.sh`). Without them these tests fail rather than skip. The other harnesses
//! need none of it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod python;
mod run;
#[path = "../support/mod.rs"]
mod support;
mod swagger_ui;
mod sync;
mod typescript;
