//! The engine helper: runs a folder `init` wrote with the real `docker compose` on the Docker
//! Engine, unchanged, as a user does (`docker compose up -d --wait`), from the stand-in images
//! `scripts/images` builds under the catalog's names.
//!
//! Every Compose command names the test's own project (`-p`, also the folder's `name:` through
//! `--set project=`), never pulls (`--pull never`: a missing image fails at once) and is
//! bounded; the stack is always taken down with `docker compose down -v`, also when the test
//! panics (`Drop`). Tests talk only to ports the stack publishes on 127.0.0.1. One stack runs
//! at a time ([`exclusive`]): stacks publish their default ports and each wants most of this
//! 2-core machine.
//!
//! Without a usable engine (`scripts/engine`) or the images (`scripts/images`) the engine tests
//! skip with one line, except under `CI`, where that fails the test.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support;

/// How long `docker compose up -d --wait` may take before the test fails.
const UP_TIMEOUT: Duration = Duration::from_secs(180);
/// Any other Compose or docker command.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

static ONE_STACK_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The lock every stack test holds while its stack runs: one stack at a time in this process,
/// and across processes (two test runs would publish the same ports) a file lock.
pub struct Exclusive {
    _file: fs::File,
    _guard: MutexGuard<'static, ()>,
    /// How long the test waited for the lock, and since when it holds it.
    waited: Duration,
    acquired: Instant,
}

/// With `KNEO_LOCK_LOG=<file>`, each test appends how long it waited for the lock and how long
/// it held it (`<test> waited <s> held <s>`): the stack tests' share of a run's time.
impl Drop for Exclusive {
    fn drop(&mut self) {
        let Some(log) = std::env::var_os("KNEO_LOCK_LOG") else {
            return;
        };
        let line = format!(
            "{} waited {:.1} held {:.1}\n",
            std::thread::current().name().unwrap_or("?"),
            self.waited.as_secs_f64(),
            self.acquired.elapsed().as_secs_f64()
        );
        if let Ok(mut file) = fs::OpenOptions::new().create(true).append(true).open(log) {
            use std::io::Write;
            let _ = file.write_all(line.as_bytes());
        }
    }
}

pub fn exclusive() -> Exclusive {
    let started = Instant::now();
    let guard = ONE_STACK_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("kneo-otel-real-backends.lock"))
        .unwrap();
    file.lock().unwrap();
    Exclusive {
        _file: file,
        _guard: guard,
        waited: started.elapsed(),
        acquired: Instant::now(),
    }
}

/// Runs `command` to completion within `timeout` (killed after it), output captured.
pub fn run_bounded(command: &mut Command, timeout: Duration) -> Output {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |mut file: fs::File| {
        use std::io::{Read, Seek};
        let mut bytes = Vec::new();
        file.rewind().unwrap();
        file.read_to_end(&mut bytes).unwrap();
        bytes
    };
    Output {
        status,
        stdout: read(out),
        stderr: read(err),
    }
}

fn docker() -> Command {
    Command::new("docker")
}

/// Why the engine cannot run stacks here, if it cannot.
fn missing_engine() -> Option<String> {
    let version = docker()
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    match version {
        Err(e) => return Some(format!("no docker client ({e})")),
        Ok(out) if !out.status.success() => {
            return Some(format!(
                "no Docker Engine answers: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(_) => {}
    }
    let compose = docker().args(["compose", "version", "--short"]).output();
    if !compose.as_ref().is_ok_and(|out| out.status.success()) {
        return Some("`docker compose` (Compose v2 as a CLI plugin) does not run".into());
    }
    None
}

/// `Some(())` when the engine is usable; else skips (one line) or, under CI, fails.
pub fn engine() -> Option<()> {
    static READY: OnceLock<Option<String>> = OnceLock::new();
    match READY.get_or_init(missing_engine) {
        None => Some(()),
        Some(why) => {
            assert!(
                !in_ci(),
                "CI: the engine tests need a Docker Engine: {why} (run ./scripts/engine)"
            );
            eprintln!("note: engine test skipped: {why} (run ./scripts/engine)");
            None
        }
    }
}

/// A unique Compose project name for a test: `kneo-test-<name>`.
pub fn project_for(name: &str) -> String {
    format!("kneo-test-{}", name.replace('_', "-"))
}

/// A stack `docker compose up -d --wait` started; `down -v` when dropped.
pub struct Stack {
    dir: PathBuf,
    pub project: String,
    /// Published host port → (service, container port).
    pub published: BTreeMap<u16, (String, u16)>,
    /// Service → memory limit (bytes) and whether it runs to completion.
    services: Vec<(String, Option<u64>)>,
    /// How long `docker compose up -d --wait` took.
    pub time_to_healthy: Duration,
}

impl Stack {
    /// `docker compose <args>` for this project, bounded.
    pub fn compose(&self, args: &[&str]) -> Output {
        compose_in(&self.dir, &self.project, args, COMMAND_TIMEOUT)
    }

    /// Like `compose`, failing the test with Compose's stderr when it fails.
    pub fn compose_ok(&self, args: &[&str]) -> String {
        let out = self.compose(args);
        assert!(
            out.status.success(),
            "docker compose {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts the stack in `dir` (which `init` wrote) as a user does, and waits (bounded) until
    /// every service is running and healthy (`--wait`); the time it took is recorded.
    pub fn up(dir: &Path, project: &str) -> Stack {
        let config = compose_config(dir, project);
        let mut published = BTreeMap::new();
        let mut services = Vec::new();
        for (name, service) in config["services"].as_object().unwrap() {
            for port in service["ports"].as_array().into_iter().flatten() {
                let host: u16 = port["published"].as_str().unwrap().parse().unwrap();
                let container = port["target"].as_u64().unwrap() as u16;
                published.insert(host, (name.clone(), container));
            }
            let memory = service["deploy"]["resources"]["limits"]["memory"]
                .as_str()
                .map(|m| m.parse().unwrap())
                .or_else(|| service["deploy"]["resources"]["limits"]["memory"].as_u64());
            services.push((name.clone(), memory));
        }
        let mut stack = Stack {
            dir: dir.to_path_buf(),
            project: project.to_string(),
            published,
            services,
            time_to_healthy: Duration::ZERO,
        };
        let started = Instant::now();
        let timeout = UP_TIMEOUT.as_secs().to_string();
        let out = compose_in(
            dir,
            project,
            &[
                "up",
                "-d",
                "--wait",
                "--wait-timeout",
                &timeout,
                "--pull",
                "never",
            ],
            UP_TIMEOUT + Duration::from_secs(30),
        );
        stack.time_to_healthy = started.elapsed();
        assert!(
            out.status.success(),
            "docker compose up -d --wait failed after {:.1?}:\n{}\n--- logs ---\n{}",
            stack.time_to_healthy,
            String::from_utf8_lossy(&out.stderr),
            stack.all_logs()
        );
        stack
    }

    /// The service's log, as `docker compose logs` shows it.
    pub fn logs(&self, service: &str) -> String {
        let out = self.compose(&["logs", "--no-color", "--no-log-prefix", service]);
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    /// Every service's log, headed by its name.
    pub fn all_logs(&self) -> String {
        self.services
            .iter()
            .map(|(name, _)| format!("[{name}]\n{}", self.logs(name)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The stack's services, by name.
    pub fn services(&self) -> Vec<String> {
        self.services.iter().map(|(name, _)| name.clone()).collect()
    }

    /// The service's container id (running or not); `None` when it has none.
    pub fn container(&self, service: &str) -> Option<String> {
        let out = self.compose(&["ps", "-a", "-q", service]);
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (!id.is_empty()).then_some(id)
    }

    fn inspect(&self, service: &str, format: &str) -> Option<String> {
        let id = self.container(service)?;
        let out = run_bounded(
            docker().args(["inspect", "-f", format, &id]),
            COMMAND_TIMEOUT,
        );
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// `docker compose start <service>` (after `stop` or `kill`).
    pub fn start(&mut self, service: &str) {
        self.compose_ok(&["start", service]);
    }

    /// `docker compose stop -t <grace> <service>`: SIGTERM, SIGKILL after `grace`.
    pub fn stop(&mut self, service: &str, grace: Duration) {
        let grace = grace.as_secs().to_string();
        self.compose_ok(&["stop", "-t", &grace, service]);
    }

    /// `docker kill -s KILL`, as a crash does: nothing the service had in memory is flushed.
    pub fn kill(&mut self, service: &str) {
        let id = self.container(service).expect("a container to kill");
        let out = run_bounded(docker().args(["kill", "-s", "KILL", &id]), COMMAND_TIMEOUT);
        assert!(out.status.success(), "docker kill {service} failed");
    }

    /// Whether the service's container is running.
    pub fn is_running(&mut self, service: &str) -> bool {
        self.inspect(service, "{{.State.Running}}").as_deref() == Some("true")
    }

    /// Whether the service is a long-running one (not a one-shot that completed).
    pub fn has_process(&self, service: &str) -> bool {
        self.inspect(service, "{{.State.Status}}").as_deref() == Some("running")
    }

    /// The container's cgroup (v1, cgroupfs driver) folder for `controller`.
    fn cgroup(&self, service: &str, controller: &str) -> PathBuf {
        let id = self
            .inspect(service, "{{.Id}}")
            .unwrap_or_else(|| panic!("no container for {service}"));
        let path = PathBuf::from(format!("/sys/fs/cgroup/{controller}/docker/{id}"));
        assert!(
            path.exists(),
            "no {controller} cgroup at {}",
            path.display()
        );
        path
    }

    /// CPU time (user + system) the service has used, in seconds (its cpuacct cgroup, as
    /// `docker stats` counts it).
    pub fn cpu_seconds(&self, service: &str) -> f64 {
        let usage = fs::read_to_string(self.cgroup(service, "cpuacct").join("cpuacct.usage"))
            .unwrap_or_else(|e| panic!("cpuacct of {service}: {e}"));
        usage.trim().parse::<u64>().unwrap() as f64 / 1e9
    }

    /// Resident memory of the service now (memory cgroup `total_rss`, without page cache).
    pub fn rss(&self, service: &str) -> u64 {
        let stat = fs::read_to_string(self.cgroup(service, "memory").join("memory.stat")).unwrap();
        stat.lines()
            .find_map(|l| l.strip_prefix("total_rss "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no total_rss for {service}"))
    }

    /// Peak memory of the service: its memory cgroup's high-water mark (what the compose limit
    /// bounds).
    pub fn peak_memory(&self, service: &str) -> u64 {
        let path = self
            .cgroup(service, "memory")
            .join("memory.max_usage_in_bytes");
        fs::read_to_string(path).unwrap().trim().parse().unwrap()
    }

    /// The memory limit the compose file gives the service.
    pub fn memory_limit(&self, service: &str) -> Option<u64> {
        self.services
            .iter()
            .find(|(name, _)| name == service)
            .and_then(|(_, memory)| *memory)
    }

    /// The service's own telemetry (Prometheus text) on its unpublished localhost:8888, read by
    /// a busybox container in the service's network namespace (`--network container:`), with `nc`.
    pub fn internal_metrics(&self, service: &str) -> String {
        let id = self.container(service).expect("a running container");
        let image = busybox_image();
        let out = run_bounded(
            docker().args([
                "run",
                "--rm",
                "--pull",
                "never",
                "--network",
                &format!("container:{id}"),
                &image,
                "sh",
                "-c",
                // Debian's static busybox segfaults in wget (exit 139, even for an IP
                // address): speak HTTP/1.0 through nc instead.
                "printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' | nc -w 10 127.0.0.1 8888",
            ]),
            COMMAND_TIMEOUT,
        );
        assert!(
            out.status.success(),
            "no internal metrics from {service}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reply = String::from_utf8(out.stdout).unwrap();
        let (head, body) = reply
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP answer from {service}'s :8888: {reply:?}"));
        assert!(head.contains(" 200 "), "{service}'s :8888 answered {head}");
        body.to_string()
    }

    /// Sum of a metric of the service's own telemetry over every series of `name` whose labels
    /// contain `label` (e.g. `exporter="debug"`).
    pub fn metric_sum(&self, service: &str, name: &str, label: &str) -> f64 {
        self.internal_metrics(service)
            .lines()
            .filter(|line| line.starts_with(name) && line.contains(label))
            .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum()
    }

    /// Fails with the service's log when its container is not running.
    pub fn assert_running(&mut self, service: &str) {
        if !self.is_running(service) {
            panic!(
                "service `{service}` is not running; its log:\n{}",
                self.logs(service)
            );
        }
    }

    /// Waits until `url` answers 2xx; returns how long it took. Panics with the service's log.
    pub fn wait_http(&mut self, service: &str, url: &str, timeout: Duration) -> Duration {
        let started = Instant::now();
        let agent = ureq::Agent::new_with_config(
            ureq::config::Config::builder()
                .timeout_global(Some(Duration::from_secs(2)))
                .http_status_as_error(false)
                .build(),
        );
        loop {
            if let Ok(response) = agent.get(url).call()
                && response.status().is_success()
            {
                return started.elapsed();
            }
            if started.elapsed() > timeout {
                panic!(
                    "{url} not ready after {timeout:?}; log of `{service}`:\n{}",
                    self.logs(service)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Bounded, and never a second panic while unwinding.
        let out = std::panic::catch_unwind(|| {
            compose_in(
                &self.dir,
                &self.project,
                &["down", "-v", "--remove-orphans", "--timeout", "5"],
                COMMAND_TIMEOUT,
            )
        });
        match out {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "warning: docker compose -p {} down -v failed: {}",
                self.project,
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(_) => eprintln!("warning: docker compose -p {} down -v hung", self.project),
        }
    }
}

/// `docker compose -p <project> --project-directory <dir> <args>`, bounded.
pub fn compose_in(dir: &Path, project: &str, args: &[&str], timeout: Duration) -> Output {
    run_bounded(
        docker()
            .args(["compose", "--project-name", project, "--project-directory"])
            .arg(dir)
            .args(args)
            .current_dir(dir),
        timeout,
    )
}

/// The compose file resolved by Compose (`config --format json`).
pub fn compose_config(dir: &Path, project: &str) -> Value {
    let out = compose_in(
        dir,
        project,
        &["config", "--format", "json"],
        COMMAND_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "docker compose config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The busybox image the catalog pins (the gateway's queue owner), which `scripts/images`
/// builds.
fn busybox_image() -> String {
    catalog_image(&["gateway", "images", "queue-owner"])
}

/// `repository:tag` of the image at `path` in templates/catalog.yaml (a key path; a number
/// indexes a list).
pub fn catalog_image(path: &[&str]) -> String {
    let catalog =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/catalog.yaml"))
            .unwrap();
    let catalog: serde_yaml::Value = serde_yaml::from_str(&catalog).unwrap();
    let mut image = &catalog;
    for key in path {
        image = match key.parse::<usize>() {
            Ok(i) => &image[i],
            Err(_) => &image[*key],
        };
    }
    format!(
        "{}:{}",
        image["repository"].as_str().unwrap(),
        image["tag"].as_str().unwrap()
    )
}

/// Fails (or, outside CI, skips with one line) when an image the stack in `dir` names is not
/// on the engine: `scripts/images` builds them.
pub fn images_present(dir: &Path, project: &str) -> bool {
    let out = compose_in(dir, project, &["config", "--images"], COMMAND_TIMEOUT);
    assert!(
        out.status.success(),
        "docker compose config --images failed"
    );
    let missing: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|image| {
            !run_bounded(docker().args(["image", "inspect", image]), COMMAND_TIMEOUT)
                .status
                .success()
        })
        .map(str::to_string)
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        !in_ci(),
        "CI: images missing on the engine: {missing:?} (run ./scripts/images)"
    );
    eprintln!("note: engine test skipped: images missing: {missing:?} (run ./scripts/images)");
    false
}

/// The project of the running test: `kneo-test-` and the test's name (its thread's name), in
/// the letters `--set project=` takes, at most 63 of them.
pub fn test_project() -> String {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("stack");
    let name = name.rsplit("::").next().unwrap_or(name);
    let mut project = project_for(name).to_ascii_lowercase();
    project.retain(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    project.truncate(63);
    project.trim_end_matches('-').to_string()
}

/// Renders `backend` with `extra` answers into `dir` under the test's own project
/// ([`test_project`]), then `docker compose up -d --wait`; prints the time to healthy. `None`
/// when the engine or an image is missing (outside CI only).
pub fn running_stack(dir: &Path, backend: &str, extra: &[&str]) -> Option<Stack> {
    engine()?;
    let project = test_project();
    let set_project = format!("project={project}");
    let mut answers = vec!["--set", &set_project];
    answers.extend_from_slice(extra);
    support::init(dir, backend, &answers);
    if !images_present(dir, &project) {
        return None;
    }
    let stack = Stack::up(dir, &project);
    eprintln!(
        "time to healthy: {backend} {extra:?}: {:.1?} (docker compose up -d --wait)",
        stack.time_to_healthy
    );
    Some(stack)
}
