//! Published ports, as Docker's port proxy does them: a listener on the host address the compose
//! file names (127.0.0.1; a port published on 0.0.0.0 listens on 127.0.0.1 too, so the test
//! machine's network never reaches a stack) and, for every connection, a socket opened inside the compose
//! network's namespace to the service's address and container port. A service that listens
//! on 127.0.0.1 inside its namespace is therefore unreachable here, exactly as in Docker.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

type ConnectRequest = (SocketAddr, Sender<std::io::Result<TcpStream>>);

/// A thread that lives in the network namespace and opens connections there.
#[derive(Clone)]
pub struct Connector {
    requests: Arc<Mutex<Sender<ConnectRequest>>>,
}

impl Connector {
    pub fn in_namespace(ns: &str) -> Connector {
        let (requests, incoming) = channel::<ConnectRequest>();
        let path = format!("/var/run/netns/{ns}");
        let (ready_tx, ready_rx) = channel();
        thread::spawn(move || {
            let file = File::open(&path).expect("open network namespace");
            // SAFETY: setns on a namespace file descriptor only changes this thread's namespace.
            let entered = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } == 0;
            ready_tx.send(entered).unwrap();
            for (address, reply) in incoming {
                let _ = reply.send(TcpStream::connect_timeout(&address, Duration::from_secs(3)));
            }
        });
        assert!(
            ready_rx.recv().unwrap(),
            "setns into {ns}: {}",
            std::io::Error::last_os_error()
        );
        Connector {
            requests: Arc::new(Mutex::new(requests)),
        }
    }

    pub fn connect(&self, address: SocketAddr) -> std::io::Result<TcpStream> {
        let (reply, answer) = channel();
        self.requests
            .lock()
            .unwrap()
            .send((address, reply))
            .unwrap();
        answer.recv().unwrap()
    }
}

/// One published port; stops listening when dropped.
pub struct Forward {
    pub host: SocketAddr,
    stop: Arc<AtomicBool>,
    accepting: Option<thread::JoinHandle<()>>,
}

impl Forward {
    pub fn start(host: SocketAddr, target: SocketAddr, connector: Connector) -> Forward {
        // A port an exposed stack publishes on 0.0.0.0 listens on loopback here: tests talk to
        // loopback only, and the test machine's network never reaches the stack.
        let host = if host.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), host.port())
        } else {
            host
        };
        let listener = TcpListener::bind(host).unwrap_or_else(|error| {
            panic!("publish {host}: {error} (is another stack or program using this port?)")
        });
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let accepting = thread::spawn(move || {
            for incoming in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = incoming else { continue };
                let connector = connector.clone();
                thread::spawn(move || match connector.connect(target) {
                    // Docker's proxy accepts, then closes when the container does not answer.
                    Err(_) => drop(client),
                    Ok(server) => splice(client, server),
                });
            }
        });
        Forward {
            host,
            stop,
            accepting: Some(accepting),
        }
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.host, Duration::from_millis(200));
        // The port is free again only once the accept loop has dropped its listener.
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn splice(client: TcpStream, server: TcpStream) {
    let (client2, server2) = match (client.try_clone(), server.try_clone()) {
        (Ok(c), Ok(s)) => (c, s),
        _ => return,
    };
    let upstream = thread::spawn(move || copy(client, server));
    copy(server2, client2);
    let _ = upstream.join();
}
