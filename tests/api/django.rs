//! The reference Django + DRF + SimpleJWT 5.5.1 app (tests/simplejwt_ref), started under
//! gunicorn for one test with its own SQLite file (or its own PostgreSQL database). `scripts/test` installs it into a virtualenv
//! and names that Python in TESSERA_TEST_DJANGO_PYTHON.
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

use crate::helpers::{Backend, TestDb};

pub struct Django {
    pub base: String,
    child: Child,
    _dir: TempDir,
    _postgres: Option<TestDb>,
}

impl Drop for Django {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python that has the reference app's packages. The comparisons run only when the
/// tests were built with TESSERA_TEST_DJANGO_PYTHON set, or under CI, which must compare and
/// so fails here if it is missing.
pub fn python() -> PathBuf {
    std::env::var_os("TESSERA_TEST_DJANGO_PYTHON")
        .map(PathBuf::from)
        .expect(
            "TESSERA_TEST_DJANGO_PYTHON must be set: CI must compare Tessera with SimpleJWT, \
             and tests built with it set run only with it set",
        )
}

fn app_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/simplejwt_ref")
}

fn manage(python: &Path, env: &[(String, String)], args: &[&str]) -> String {
    let out = Command::new(python)
        .arg("manage.py")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(app_dir())
        .output()
        .expect("run manage.py");
    assert!(
        out.status.success(),
        "manage.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A migrated reference database with its users, not served yet.
pub struct DjangoDb {
    python: PathBuf,
    env: Vec<(String, String)>,
    dir: TempDir,
    postgres: Option<TestDb>,
}

impl DjangoDb {
    /// Migrate a fresh SQLite database and create `users` (`name:password[:flag...]`, see
    /// seed_users.py).
    pub fn setup(python: &Path, settings: &[(&str, &str)], users: &[&str]) -> DjangoDb {
        Self::setup_on(Backend::Sqlite, python, settings, users)
    }

    /// The same, on a fresh database of `backend` (PostgreSQL: one created for this test in
    /// TESSERA_TEST_POSTGRES_URL's server, dropped after it).
    pub fn setup_on(
        backend: Backend,
        python: &Path,
        settings: &[(&str, &str)],
        users: &[&str],
    ) -> DjangoDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut env: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.push((
            "REF_DB".to_owned(),
            dir.path().join("ref.db").display().to_string(),
        ));
        let postgres = (backend == Backend::Postgres).then(|| TestDb::create(backend, dir.path()));
        if let Some(db) = &postgres {
            env.push(("REF_DATABASE_URL".to_owned(), db.url()));
        }
        manage(python, &env, &["migrate", "-v0"]);
        if !users.is_empty() {
            let mut args = vec!["seed_users"];
            args.extend_from_slice(users);
            manage(python, &env, &args);
        }
        DjangoDb {
            python: python.to_owned(),
            env,
            dir,
            postgres,
        }
    }

    /// The URL of Django's database, as `tessera user import-django --database-url` takes it.
    pub fn database_url(&self) -> String {
        match &self.postgres {
            Some(db) => db.url(),
            None => format!("sqlite://{}", self.dir.path().join("ref.db").display()),
        }
    }

    /// Run a management command; its standard output.
    pub fn manage(&self, args: &[&str]) -> String {
        manage(&self.python, &self.env, args)
    }

    /// Serve this database under gunicorn, with `settings` added to (or replacing) the
    /// ones it was set up with.
    pub fn serve(mut self, settings: &[(&str, &str)]) -> Django {
        for (k, v) in settings {
            self.env.retain(|(name, _)| name != k);
            self.env.push(((*k).to_owned(), (*v).to_owned()));
        }
        let env = self.env;
        let mut child = Command::new(&self.python)
            .args([
                "-m",
                "gunicorn",
                "refsite.wsgi",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "1",
                "--log-level",
                "info",
            ])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(app_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gunicorn");
        let stderr = child.stderr.take().expect("gunicorn stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = String::new();
        let base = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!("gunicorn exited before listening:\n{seen}");
            };
            if let Some(at) = line.split("Listening at: ").nth(1) {
                break at.split_whitespace().next().unwrap_or_default().to_owned();
            }
            seen.push_str(&line);
            seen.push('\n');
        };
        // Keep draining its log so gunicorn never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Django {
            base,
            child,
            _dir: self.dir,
            _postgres: self.postgres,
        }
    }
}

impl Django {
    /// Migrate a fresh database, create `users` (`name:password[:flag...]`), and serve.
    pub fn start(python: &Path, settings: &[(&str, &str)], users: &[&str]) -> Django {
        DjangoDb::setup(python, settings, users).serve(&[])
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}
