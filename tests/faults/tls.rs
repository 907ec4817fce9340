//! TLS to PostgreSQL with a certificate authority made for the test.

use std::{path::Path, process::Command};

use todo_api::startup::StartupError;

use crate::{
    cluster::{Cluster, owned_tempdir},
    support::Server,
};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a server certificate it signed for `localhost` only (not 127.0.0.1).
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}-ca.key"),
            "-out",
            &format!("{name}-ca.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=todo-api test CA {name}"),
        ],
    );
}

fn make_server_cert(dir: &Path, ca: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}-ca.crt"),
            "-CAkey",
            &format!("{ca}-ca.key"),
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    // PostgreSQL insists that its key is private to its owner.
    let _ = Command::new("chown")
        .args(["postgres:postgres", "server.key", "server.crt"])
        .current_dir(dir)
        .status();
    let _ = Command::new("chmod")
        .args(["600", "server.key"])
        .current_dir(dir)
        .status();
}

/// A cluster serving TLS with the certificate in `dir`, holding a database `todo`.
fn tls_cluster(dir: &std::path::Path) -> Cluster {
    let cluster = Cluster::start(&[
        "ssl=on",
        &format!("ssl_cert_file={}", dir.join("server.crt").display()),
        &format!("ssl_key_file={}", dir.join("server.key").display()),
    ]);
    cluster.createdb("todo");
    cluster
}

fn unreachable_message(result: Result<todo_api::startup::Application, StartupError>) -> String {
    match result {
        Err(e @ StartupError::Unreachable(_)) => {
            assert_eq!(e.exit_code() as u8, 3);
            e.to_string()
        }
        Err(other) => panic!("expected 'unreachable', got {other}"),
        Ok(_) => panic!("connected although it must not"),
    }
}

#[tokio::test]
async fn verify_full_accepts_the_right_ca_and_refuses_a_wrong_one_or_a_wrong_name() {
    let certs = owned_tempdir();
    let dir = certs.path();
    make_ca(dir, "right");
    make_ca(dir, "wrong");
    make_server_cert(dir, "right");
    let cluster = tls_cluster(dir);
    let url = |host: &str, query: &str| format!("{}?{query}", cluster.url(host, "todo"));
    let right = dir.join("right-ca.crt");
    let wrong = dir.join("wrong-ca.crt");

    // The right CA and the certificate's name: connects, and serves.
    let ok = url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", right.display()),
    );
    let server = Server::start(&[("DATABASE_URL", &ok)]).await;
    server.get("/health/ready").expect(200).await;
    let ssl: bool = {
        server.sign_up("tls").await;
        cluster.psql("postgres", "SELECT bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE application_name = 'todo-api'") == "t\n"
    };
    assert!(ssl, "the server's connections are encrypted");
    server.stop().await;

    // Another CA: refused at startup with exit code 3, naming TLS.
    let bad = url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", wrong.display()),
    );
    let message = unreachable_message(
        Server::build(&[("DATABASE_URL", &bad), ("DB_CONNECT_TIMEOUT", "2s")]).await,
    );
    assert!(
        message.contains("TLS") && message.contains("localhost"),
        "{message}"
    );

    // The right CA but an address the certificate does not name.
    let by_ip = url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", right.display()),
    );
    let message = unreachable_message(
        Server::build(&[("DATABASE_URL", &by_ip), ("DB_CONNECT_TIMEOUT", "2s")]).await,
    );
    assert!(message.contains("TLS"), "{message}");

    // sslmode=require encrypts without verifying, as documented: even a wrong CA connects.
    let lax = url(
        "localhost",
        &format!("sslmode=require&sslrootcert={}", wrong.display()),
    );
    assert!(Server::build(&[("DATABASE_URL", &lax)]).await.is_ok());
}

#[tokio::test]
async fn channel_binding_require_is_enforced_as_certificate_verification() {
    let certs = owned_tempdir();
    let dir = certs.path();
    make_ca(dir, "private");
    make_server_cert(dir, "private");
    let cluster = tls_cluster(dir);
    let base = cluster.url("localhost", "todo");
    // Neon's string: sslmode=require&channel_binding=require. The certificate is verified
    // against the bundled web PKI roots, which do not include this test's private CA.
    let neon_style = format!("{base}?sslmode=require&channel_binding=require");
    let message = unreachable_message(
        Server::build(&[("DATABASE_URL", &neon_style), ("DB_CONNECT_TIMEOUT", "2s")]).await,
    );
    assert!(message.contains("TLS"), "{message}");
    // With the private CA named, the same string verifies and connects.
    let with_ca = format!(
        "{base}?sslmode=require&channel_binding=require&sslrootcert={}",
        dir.join("private-ca.crt").display()
    );
    assert!(Server::build(&[("DATABASE_URL", &with_ca)]).await.is_ok());
}
