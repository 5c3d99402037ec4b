//! A throwaway CA with a server certificate for 127.0.0.1 and a client
//! certificate, made with openssl, for TLS tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Files of a test CA, all in one directory.
pub struct TestCerts {
    pub dir: PathBuf,
}

impl TestCerts {
    /// Creates `ca.{crt,key}`, `server.{crt,key}` (for IP 127.0.0.1) and
    /// `client.{crt,key}` in `dir`.
    pub fn create(dir: &Path) -> Self {
        let openssl = |args: &[&str]| {
            crate::output_ok(Command::new("openssl").args(args).current_dir(dir));
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=sidewatch test CA",
        ]);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .expect("ext");
        std::fs::write(
            dir.join("client.ext"),
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
        )
        .expect("ext");
        for (name, subject) in [("server", "/CN=127.0.0.1"), ("client", "/CN=prometheus")] {
            let (key, csr, crt, ext) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.crt"),
                format!("{name}.ext"),
            );
            openssl(&[
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj",
                subject,
            ]);
            openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                &ext,
            ]);
        }
        Self {
            dir: dir.to_owned(),
        }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}
