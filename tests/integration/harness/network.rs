//! A compose network made of Linux network namespaces: one namespace holds a bridge (the
//! compose network, with the host's address on it as Docker's gateway has), and every service
//! gets its own namespace with an `eth0` on that bridge, so service names resolve through the
//! service's `/etc/hosts` as on a compose network and two services may both listen on 4317.
//! Nothing is added to the root namespace: published ports are forwarded from 127.0.0.1 by
//! `forward.rs`, which connects from inside the bridge namespace.

use std::path::PathBuf;
use std::process::Command;

/// Prefix of every namespace the harness creates; the creating test process's pid follows, so
/// namespaces left by a killed run are found and removed by the next one.
const PREFIX: &str = "kneo-";

pub struct Network {
    pub bridge_ns: String,
    /// Service name → (namespace, address on the compose network).
    pub services: Vec<(String, String, String)>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Removes namespaces of harness runs whose process is gone.
pub fn remove_stale() {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("run ip");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or_default();
        if !PathBuf::from(format!("/proc/{pid}")).exists() {
            // Services a killed test run left behind still run in the namespace.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

impl Network {
    /// Creates the bridge and one namespace per service, in order (addresses .10, .11, …).
    pub fn create(stack: usize, services: &[String]) -> Network {
        let base = format!("{PREFIX}{}-{stack}", std::process::id());
        let bridge_ns = format!("{base}-net");
        ip(&["netns", "add", &bridge_ns]);
        ip(&["-n", &bridge_ns, "link", "set", "lo", "up"]);
        ip(&["-n", &bridge_ns, "link", "add", "br0", "type", "bridge"]);
        ip(&[
            "-n",
            &bridge_ns,
            "addr",
            "add",
            "10.89.0.1/24",
            "dev",
            "br0",
        ]);
        ip(&["-n", &bridge_ns, "link", "set", "br0", "up"]);
        let mut network = Network {
            bridge_ns,
            services: Vec::new(),
        };
        for (index, service) in services.iter().enumerate() {
            let ns = format!("{base}-s{index}");
            let address = format!("10.89.0.{}", 10 + index);
            let veth = format!("v{index}");
            ip(&["netns", "add", &ns]);
            network
                .services
                .push((service.clone(), ns.clone(), address.clone()));
            ip(&[
                "-n",
                &network.bridge_ns,
                "link",
                "add",
                &veth,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &ns,
            ]);
            ip(&[
                "-n",
                &network.bridge_ns,
                "link",
                "set",
                &veth,
                "master",
                "br0",
                "up",
            ]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "route", "add", "default", "via", "10.89.0.1"]);
        }
        network
    }

    /// `/etc/hosts` for every service: itself, localhost and every other service by name.
    pub fn hosts_file(&self) -> String {
        let mut hosts = String::from("127.0.0.1 localhost\n::1 localhost\n");
        for (service, _, address) in &self.services {
            hosts.push_str(&format!("{address} {service}\n"));
        }
        hosts
    }

    pub fn namespace(&self, service: &str) -> &str {
        &self
            .services
            .iter()
            .find(|(name, _, _)| name == service)
            .unwrap()
            .1
    }

    pub fn address(&self, service: &str) -> &str {
        &self
            .services
            .iter()
            .find(|(name, _, _)| name == service)
            .unwrap()
            .2
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for (_, ns, _) in &self.services {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.bridge_ns])
            .status();
    }
}
