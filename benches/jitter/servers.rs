//! The servers the bench compares s7rtd with: the floor (a minimal blocking TCP server that
//! answers every TPKT frame with a fixed S7 answer) and Snap7's native server (libsnap7.so
//! from the python-snap7 1.x wheel, loaded with dlopen in a child process of this binary).

use std::ffi::{c_char, c_int, c_void, CString};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Where and how server threads run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placement {
    /// CPU for server threads.
    pub(crate) cpu: usize,
    /// SCHED_FIFO priority, when permitted.
    pub(crate) fifo: Option<u8>,
}

impl Placement {
    /// Applies the placement to the calling thread.
    pub(crate) fn apply(&self) {
        let _ = s7rt::rt::pin_to_cpu(self.cpu);
        if let Some(p) = self.fifo {
            let _ = s7rt::rt::set_fifo(p);
        }
    }
}

// COTP connection confirm (class 0, TPDU size 1024, TSAPs 0x0100 / 0x0102).
const CC: [u8; 22] = [
    0x03, 0x00, 0x00, 0x16, 0x11, 0xD0, 0x00, 0x01, 0x00, 0x01, 0x00, 0xC0, 0x01, 0x0A, 0xC1, 0x02,
    0x01, 0x00, 0xC2, 0x02, 0x01, 0x02,
];
// TPKT | COTP DT | Ack_Data header (PDU ref at 11..13) | Setup Communication: AmQ 1/1, PDU 480.
const SETUP_ACK: [u8; 27] = [
    0x03, 0x00, 0x00, 0x1B, 0x02, 0xF0, 0x80, 0x32, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
    0x00, 0x00, 0x00, 0xF0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0xE0,
];
// TPKT | COTP DT | Ack_Data header | Read Var, 1 item | FF 04 0020 + 4 bytes.
const READ_ACK: [u8; 29] = [
    0x03, 0x00, 0x00, 0x1D, 0x02, 0xF0, 0x80, 0x32, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x08, 0x00, 0x00, 0x04, 0x01, 0xFF, 0x04, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00,
];

fn floor_conn(mut s: TcpStream) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let mut buf = [0u8; 4096];
    let (mut setup, mut read) = (SETUP_ACK, READ_ACK);
    loop {
        s.read_exact(&mut buf[..4])?;
        let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
        if !(7..=buf.len()).contains(&len) {
            return Ok(());
        }
        s.read_exact(&mut buf[4..len])?;
        let answer: &[u8] = match (buf[5], buf.get(8), buf.get(17)) {
            (0xE0, _, _) => &CC,
            (_, _, Some(0xF0)) => {
                setup[11..13].copy_from_slice(&buf[11..13]);
                &setup
            }
            _ => {
                read[11..13].copy_from_slice(&buf[11..13]);
                &read
            }
        };
        s.write_all(answer)?;
    }
}

/// The floor: an accept thread and one blocking thread per connection, all placed.
pub(crate) struct Floor {
    /// Bound address.
    pub(crate) addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Floor {
    /// Starts the floor on 127.0.0.1 with `placement`.
    pub(crate) fn start(placement: Placement) -> std::io::Result<Floor> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let accept = std::thread::Builder::new()
            .name("floor-accept".into())
            .spawn(move || {
                placement.apply();
                for s in listener.incoming() {
                    if stop2.load(Ordering::Relaxed) {
                        return;
                    }
                    if let Ok(s) = s {
                        let _ = std::thread::Builder::new().name("floor-conn".into()).spawn(
                            move || {
                                placement.apply();
                                let _ = floor_conn(s);
                            },
                        );
                    }
                }
            })?;
        Ok(Floor {
            addr,
            stop,
            accept: Some(accept),
        })
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr); // wake the accept thread
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// The path of the libsnap7.so that python-snap7 1.x bundles in `venv`, if installed.
pub(crate) fn find_libsnap7(venv: &std::path::Path) -> Option<std::path::PathBuf> {
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    lib.filter_map(|e| e.ok())
        .map(|e| e.path().join("site-packages/snap7/lib/libsnap7.so"))
        .find(|p| p.exists())
}

/// Installs python-snap7 1.3 (with pytest, the same venv the interop tests use) into `venv`.
pub(crate) fn install_snap7(venv: &std::path::Path) -> Result<(), String> {
    let run = |cmd: &mut std::process::Command| -> Result<(), String> {
        let st = cmd.status().map_err(|e| format!("{cmd:?}: {e}"))?;
        st.success()
            .then_some(())
            .ok_or_else(|| format!("{cmd:?} failed ({st})"))
    };
    if !venv.join("bin/python").exists() {
        run(std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv))?;
    }
    run(std::process::Command::new(venv.join("bin/python")).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "python-snap7==1.3",
        "pytest",
    ]))?;
    std::fs::write(venv.join(".requirements"), "python-snap7==1.3 pytest\n")
        .map_err(|e| e.to_string())
}

type SrvCreate = unsafe extern "C" fn() -> usize;
type SrvRegisterArea = unsafe extern "C" fn(usize, c_int, u16, *mut c_void, c_int) -> c_int;
type SrvSetParam = unsafe extern "C" fn(usize, c_int, *mut c_void) -> c_int;
type SrvStartTo = unsafe extern "C" fn(usize, *const c_char) -> c_int;
type SrvStop = unsafe extern "C" fn(usize) -> c_int;

fn sym<T: Copy>(lib: *mut c_void, name: &str) -> Result<T, String> {
    let c = CString::new(name).map_err(|e| e.to_string())?;
    // SAFETY: `lib` is a handle from dlopen; `c` is NUL-terminated.
    let p = unsafe { libc::dlsym(lib, c.as_ptr()) };
    if p.is_null() {
        return Err(format!("libsnap7 has no symbol {name}"));
    }
    // SAFETY: T is the C function pointer type Snap7's header declares for `name`
    // (snap7.h), and function pointers have the size of a data pointer on Linux.
    Ok(unsafe { std::mem::transmute_copy::<*mut c_void, T>(&p) })
}

/// Child mode: serves Snap7 on 127.0.0.1:`port` with DB1 (1024 bytes), prints `ready`, and
/// stops when stdin closes.
pub(crate) fn serve_snap7(so: &str, port: u16) -> Result<(), String> {
    let path = CString::new(so).map_err(|e| e.to_string())?;
    // SAFETY: dlopen with a NUL-terminated path; the library stays loaded for the process.
    let lib = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW) };
    if lib.is_null() {
        return Err(format!("dlopen {so} failed"));
    }
    let create: SrvCreate = sym(lib, "Srv_Create")?;
    let register: SrvRegisterArea = sym(lib, "Srv_RegisterArea")?;
    let set_param: SrvSetParam = sym(lib, "Srv_SetParam")?;
    let start_to: SrvStartTo = sym(lib, "Srv_StartTo")?;
    let stop: SrvStop = sym(lib, "Srv_Stop")?;
    // The areas live for the whole process (Snap7 keeps the pointers).
    let db1: &'static mut [u8] = Box::leak(vec![0u8; 1024].into_boxed_slice());
    let mut port = port;
    let ip = CString::new("127.0.0.1").map_err(|e| e.to_string())?;
    // SAFETY: Snap7's C API as declared in snap7.h: the server handle comes from Srv_Create,
    // the area pointer and size describe `db1`, which outlives the server, LocalPort (1) is
    // a u16 parameter, and Srv_StartTo takes a NUL-terminated address.
    unsafe {
        let srv = create();
        if register(srv, 5, 1, db1.as_mut_ptr().cast(), db1.len() as c_int) != 0 {
            return Err("Srv_RegisterArea(DB1) failed".into());
        }
        if set_param(srv, 1, (&mut port as *mut u16).cast()) != 0 {
            return Err("Srv_SetParam(LocalPort) failed".into());
        }
        let r = start_to(srv, ip.as_ptr());
        if r != 0 {
            return Err(format!("Srv_StartTo failed: {r:#x}"));
        }
        println!("ready");
        let _ = std::io::stdout().flush();
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        stop(srv);
    }
    Ok(())
}

/// A free TCP port on 127.0.0.1 (bound and released; Snap7 needs a concrete port).
pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
