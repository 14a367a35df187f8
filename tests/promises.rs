//! The promises every exit handler is given, proven in child processes (see
//! `common/mod.rs`).
//!
//! **The grid**: each promise (what the handler under test does) for each
//! way a handler runs (plain, static, with a time limit set three ways,
//! async off and on the application's runtime), on each exit path where
//! that way applies. A cell is the scenario `grid/WAY/PATH/PROMISE`: the
//! child decodes it from that name and builds its handlers; the parent
//! computes what the cell must show with one function, `expected`, from
//! the rules of the promise. The README's promise table is the list of
//! cells, checked when every cell passed.
//!
//! **Single scenarios**, each a crossing once found broken (logging at
//! exit, an async handler's `std::process::exit`, a left-behind handler
//! holding stderr's lock, racing exits, extreme durations...), named after
//! what it shows.
//!
//! `cargo test --test promises -- NAME` runs the scenarios whose name
//! contains NAME; `ATEXIT_TEST_JOBS=N` runs N children at a time (default 4).

mod common;

use std::process::ExitCode;

#[cfg(unix)]
fn main() -> ExitCode {
    unix::main()
}

/// The cells use signals, Unix exit statuses and C's `exit` running the
/// handlers (which `std::process::exit` skips on Windows).
#[cfg(not(unix))]
fn main() -> ExitCode {
    println!("the promise grid runs on Unix only");
    ExitCode::SUCCESS
}

#[cfg(unix)]
mod unix {
    use std::cell::RefCell;
    use std::path::PathBuf;
    use std::process::{Command, ExitCode, Output};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, OnceLock, PoisonError};
    use std::time::{Duration, Instant};

    use crate::common::{self, Status};

    // ---------------------------------------------------------------------
    // The grid's three lists.

    /// An enum with a name for each variant, and the list of them all.
    macro_rules! named {
        ($(#[$doc:meta])* $ty:ident, $all:ident { $($variant:ident = $name:literal,)* }) => {
            $(#[$doc])*
            #[derive(Clone, Copy, PartialEq, Eq, Debug)]
            pub enum $ty {
                $($variant,)*
            }

            pub const $all: &[$ty] = &[$($ty::$variant,)*];

            impl $ty {
                pub fn name(self) -> &'static str {
                    match self {
                        $($ty::$variant => $name,)*
                    }
                }

                fn from_name(name: &str) -> Option<$ty> {
                    $all.iter().copied().find(|v| v.name() == name)
                }
            }
        };
    }

    named! {
        /// How the handler under test is registered, and so how it runs.
        Way, WAYS {
            Plain = "plain",
            Static = "static",
            LimitRegistration = "limit_registration",
            LimitSetting = "limit_setting",
            LimitEnv = "limit_env",
            AsyncExit = "async_exit",
            AsyncApp = "async_app",
        }
    }

    named! {
        /// How the process ends.
        Path, PATHS {
            Return = "return",
            ProcessExit = "process_exit",
            Panic = "panic",
            AtexitExit = "atexit_exit",
            MainAttr = "main_attr",
            RunExitfuncs = "run_exitfuncs",
            Signal = "signal",
        }
    }

    named! {
        /// What the handler under test does.
        Promise, PROMISES {
            Tls = "tls",
            Exit = "exit",
            Register = "register",
            Panic = "panic",
            Overrun = "overrun",
            OverrunAwait = "overrun_await",
            Reason = "reason",
        }
    }

    impl Way {
        fn has_time_limit(self) -> bool {
            matches!(self, Way::LimitRegistration | Way::LimitSetting | Way::LimitEnv)
        }

        fn is_async(self) -> bool {
            matches!(self, Way::AsyncExit | Way::AsyncApp)
        }
    }

    /// One cell of the grid.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub struct Cell {
        way: Way,
        path: Path,
        promise: Promise,
    }

    impl Cell {
        fn name(self) -> String {
            format!("grid/{}/{}/{}", self.way.name(), self.path.name(), self.promise.name())
        }

        fn parse(name: &str) -> Option<Cell> {
            let mut parts = name.strip_prefix("grid/")?.split('/');
            let way = Way::from_name(parts.next()?)?;
            let path = Path::from_name(parts.next()?)?;
            let promise = Promise::from_name(parts.next()?)?;
            let cell = Cell { way, path, promise };
            (parts.next().is_none() && cell.applies()).then_some(cell)
        }

        /// Whether the cell is generated: an async handler on the
        /// application's runtime needs `#[atexit::main]` above
        /// `#[tokio::main]` (which `main` returning or `atexit::exit` from
        /// it ends); an overrun needs a time limit.
        fn applies(self) -> bool {
            let way_on_path = match self.way {
                Way::AsyncApp => matches!(self.path, Path::MainAttr | Path::AtexitExit),
                _ => true,
            };
            let promise_for_way = match self.promise {
                Promise::Overrun => self.way.has_time_limit() || self.way.is_async(),
                Promise::OverrunAwait => self.way.is_async(),
                _ => true,
            };
            way_on_path && promise_for_way
        }

        fn overruns(self) -> bool {
            matches!(self.promise, Promise::Overrun | Promise::OverrunAwait)
        }

        /// The time limit of the handler under test, where it has one:
        /// short where it is meant to be passed.
        fn limit(self) -> Duration {
            if self.overruns() { Duration::from_millis(300) } else { Duration::from_secs(3) }
        }

        fn env(self) -> Vec<(&'static str, String)> {
            let mut env = Vec::new();
            if self.way == Way::LimitEnv {
                env.push(("ATEXIT_HANDLER_TIME_LIMIT_MS", self.limit().as_millis().to_string()));
            }
            if self.overruns() {
                env.push(("ATEXIT_TRACE", "1".to_owned()));
            }
            env
        }
    }

    /// Every cell, in the README table's order: by promise, then path, then way.
    fn cells() -> impl Iterator<Item = Cell> {
        PROMISES.iter().flat_map(|&promise| {
            PATHS.iter().flat_map(move |&path| {
                WAYS.iter().map(move |&way| Cell { way, path, promise }).filter(|cell| cell.applies())
            })
        })
    }

    // ---------------------------------------------------------------------
    // What a cell must show, computed from the promise's rules.

    /// The status each path ends with, when no handler changes it.
    fn path_status(path: Path) -> Status {
        match path {
            Path::Return | Path::MainAttr | Path::RunExitfuncs => Status::Code(0),
            Path::ProcessExit => Status::Code(7),
            Path::Panic => Status::Code(101),
            Path::AtexitExit => Status::Code(5),
            Path::Signal => Status::Signal(libc::SIGTERM),
        }
    }

    /// What `exit_reason()` says on each path, as `{:?}` prints it.
    fn path_reason(path: Path) -> &'static str {
        match path {
            Path::Return => "Some(ProcessExit(Some(0)))",
            Path::ProcessExit => "Some(ProcessExit(Some(7)))",
            Path::Panic => "Some(ProcessExit(Some(101)))",
            Path::AtexitExit => "Some(Exit(5))",
            Path::MainAttr => "Some(MainReturned)",
            Path::RunExitfuncs => "Some(RunExitfuncs)",
            Path::Signal => "Some(Signal(Terminate))",
        }
    }

    /// Whether the handler under test sees the exiting thread's
    /// thread-locals, still alive: on the paths that run the handlers
    /// before the exiting thread ends; for an async handler, only where the
    /// exit run awaits it on the main thread (`async_app` when main
    /// returns); never for a future run on a runtime built at exit (which
    /// is where `atexit::exit` called inside the application's runtime runs
    /// it: a runtime cannot block on another).
    fn sees_exiting_threads_locals(cell: Cell) -> bool {
        match cell.way {
            Way::AsyncExit => false,
            Way::AsyncApp => cell.path == Path::MainAttr,
            _ => matches!(cell.path, Path::AtexitExit | Path::MainAttr | Path::RunExitfuncs),
        }
    }

    /// What the cell must show. Every cell: the handler registered before
    /// the one under test prints `rest ran`, after it.
    pub fn expected(cell: Cell) -> Want {
        let mut want = Want::default();
        let mut stdout = Vec::new();
        match cell.promise {
            Promise::Tls => {
                let value = if sees_exiting_threads_locals(cell) { MAIN_VALUE } else { "" };
                stdout.push(Line::Is(format!("tls: {value}")));
                want.stderr_lacks.push(TLS_DESTROYED.to_owned());
            }
            Promise::Exit => {
                stdout.push(Line::Is("calling exit".to_owned()));
                want.within = Some(Duration::from_secs(2));
            }
            // The new handler is the most recently registered: it runs next.
            Promise::Register => stdout.push(Line::Is("registered inside ran".to_owned())),
            Promise::Panic => {
                want.stderr_line.push((HANDLER_REPORT.to_owned(), "panicked: boom".to_owned()));
            }
            Promise::Overrun | Promise::OverrunAwait => {
                stdout.push(Line::Is("overrunning".to_owned()));
                want.stderr_has.push("time limit".to_owned());
                want.within = Some(Duration::from_secs(3));
                want.never_traced_ok = true;
            }
            Promise::Reason => stdout.push(Line::Is(format!("reason: {}", path_reason(cell.path)))),
        }
        if cell.promise != Promise::Panic {
            // No handler panicked.
            want.stderr_lacks.push(HANDLER_REPORT.to_owned());
        }
        stdout.push(Line::Is("rest ran".to_owned()));
        // After a handler's `exit`, the run finishes and the process exits:
        // `run_exitfuncs` does not return.
        if cell.path == Path::RunExitfuncs && cell.promise != Promise::Exit {
            stdout.push(match cell.promise {
                Promise::Panic => Line::Has("run_exitfuncs: Err(", "boom"),
                _ => Line::Is("run_exitfuncs: Ok".to_owned()),
            });
        }
        want.stdout = Some(stdout);
        want.status = Some(if cell.promise == Promise::Exit { Status::Code(9) } else { path_status(cell.path) });
        want
    }

    /// The README's table of the grid: a row for each promise and path, a
    /// column for each way. Computed from the list of cells: it is checked
    /// only when every cell passed.
    fn grid_table() -> String {
        let generated: Vec<Cell> = cells().collect();
        let mut table = String::from("| Promise | Exit path |");
        for way in WAYS {
            table.push_str(&format!(" `{}` |", way.name()));
        }
        table.push_str("\n|---|---|");
        table.push_str(&"---|".repeat(WAYS.len()));
        table.push('\n');
        for &promise in PROMISES {
            for &path in PATHS {
                table.push_str(&format!("| `{}` | `{}` |", promise.name(), path.name()));
                for &way in WAYS {
                    let mark = if generated.contains(&Cell { way, path, promise }) { "✓" } else { "–" };
                    table.push_str(&format!(" {mark} |"));
                }
                table.push('\n');
            }
        }
        table
    }

    const GRID_BEGIN: &str = "<!-- promise-grid:begin (written by tests/promises.rs; ATEXIT_BLESS=1 rewrites it) -->\n";
    const GRID_END: &str = "<!-- promise-grid:end -->";

    // ---------------------------------------------------------------------
    // The child: a cell's program.

    const MAIN_VALUE: &str = "main's value";
    const TLS_DESTROYED: &str = "cannot access a Thread Local Storage value";
    const HANDLER_REPORT: &str = "atexit: exit handler ";
    /// The child names its handler under test on stderr, after this, as
    /// the runtime names it (its closure's type), for the trace check.
    const UNDER_TEST: &str = "handler under test: ";
    /// Where a case that writes files writes them: a fresh directory the
    /// parent makes for each run.
    const DIR_VAR: &str = "ATEXIT_TEST_DIR";

    thread_local! {
        /// Set by main in the `tls` cells. A `String` has a destructor: the
        /// thread-local is destroyed when its thread ends.
        static VALUE: RefCell<String> = const { RefCell::new(String::new()) };
        /// Initialised by main just before it exits, as a logging library's
        /// per-thread state would be, and used by the handler too.
        static SECOND: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    }

    /// The cell this child plays.
    static CELL: OnceLock<Cell> = OnceLock::new();

    fn cell() -> Cell {
        *CELL.get().expect("a grid cell is being played")
    }

    /// What the handler under test does, whichever way it runs.
    fn act(promise: Promise) {
        match promise {
            Promise::Tls => {
                let value = VALUE.with(|v| v.borrow().clone());
                println!("tls: {value}");
                SECOND.with(|s| s.borrow_mut().push("handler"));
            }
            Promise::Exit => {
                println!("calling exit");
                atexit::exit(9);
            }
            Promise::Register => {
                atexit::register(|| println!("registered inside ran"));
            }
            Promise::Panic => panic!("boom"),
            // `OverrunAwait` only in async cells (`act_async`).
            // Blocks well past its 300 ms limit. Not forever: under
            // `run_exitfuncs` the caller's own thread runs it, and the call
            // returns when it does (the rest ran meanwhile); on an exit
            // path the process has ended long before.
            Promise::Overrun | Promise::OverrunAwait => {
                println!("overrunning");
                std::thread::sleep(Duration::from_millis(1500));
            }
            Promise::Reason => println!("reason: {:?}", atexit::exit_reason()),
        }
    }

    /// What the async handler under test does: the same, in its future;
    /// and `overrun_await` awaits forever.
    async fn act_async(promise: Promise) {
        if promise == Promise::OverrunAwait {
            println!("overrunning");
            std::future::pending::<()>().await;
        }
        act(promise);
    }

    /// Says what the handler is named up to where it is registered: a
    /// closure's name ends in `{closure@tests/promises.rs:LINE:COLUMN}`.
    fn announce<F>(_: &F) {
        let path = std::any::type_name::<F>();
        let path = path.strip_suffix("{{closure}}").expect("a closure");
        eprintln!("{UNDER_TEST}{path}{{closure@tests/promises.rs:");
    }

    fn static_cell() -> Option<Cell> {
        CELL.get().copied().filter(|cell| cell.way == Way::Static)
    }

    // The `static` cells' handlers: the rest first, then the one under
    // test, which, written later in the same module, runs first. Silent in
    // every other scenario.

    #[atexit::register]
    fn rest_static() {
        if static_cell().is_some() {
            println!("rest ran");
        }
    }

    #[atexit::register]
    fn static_under_test() {
        if let Some(cell) = static_cell() {
            act(cell.promise);
        }
    }

    fn register_under_test(cell: Cell) {
        let (promise, limit) = (cell.promise, cell.limit());
        match cell.way {
            Way::Static => {}
            Way::Plain | Way::LimitEnv => {
                let f = move || act(promise);
                announce(&f);
                atexit::register(f);
            }
            Way::LimitSetting => {
                atexit::set_handler_time_limit(limit);
                let f = move || act(promise);
                announce(&f);
                atexit::register(f);
            }
            Way::LimitRegistration => {
                let f = move || act(promise);
                announce(&f);
                atexit::Registration::new(f).time_limit(limit).register();
            }
            Way::AsyncExit | Way::AsyncApp => {
                let f = move || act_async(promise);
                announce(&f);
                atexit::register_async(limit, f);
            }
        }
    }

    /// Main's part before it exits, on every path.
    fn prepare(cell: Cell) {
        if cell.promise == Promise::Tls {
            VALUE.with(|v| *v.borrow_mut() = MAIN_VALUE.to_owned());
        }
        if cell.way != Way::Static {
            atexit::register(|| println!("rest ran"));
        }
        register_under_test(cell);
        if cell.promise == Promise::Tls {
            SECOND.with(|s| s.borrow_mut().push("main"));
        }
    }

    fn play_cell(cell: Cell) -> ExitCode {
        CELL.set(cell).expect("one cell per child");
        match (cell.way, cell.path) {
            (Way::AsyncApp, _) => app_main(),
            (_, Path::MainAttr) => attr_main(),
            (_, path) => {
                if path == Path::Signal {
                    atexit::signals::install().expect("signal handlers installed");
                }
                prepare(cell);
                end(path);
                ExitCode::SUCCESS
            }
        }
    }

    /// The path `main_attr`.
    #[atexit::main]
    fn attr_main() {
        prepare(cell());
    }

    /// The column `async_app`: its paths are `main_attr` and `atexit_exit`.
    #[atexit::main]
    #[tokio::main]
    async fn app_main() {
        let cell = cell();
        prepare(cell);
        if cell.path == Path::AtexitExit {
            atexit::exit(5);
        }
    }

    /// Ends the process the way `path` says (or returns, for `return`).
    fn end(path: Path) {
        match path {
            Path::Return | Path::MainAttr => {}
            Path::ProcessExit => std::process::exit(7),
            Path::Panic => panic!("main panics"),
            Path::AtexitExit => atexit::exit(5),
            Path::RunExitfuncs => report_run(),
            Path::Signal => receive_sigterm(),
        }
    }

    fn report_run() {
        match atexit::run_exitfuncs() {
            Ok(()) => println!("run_exitfuncs: Ok"),
            Err(panic) => println!("run_exitfuncs: Err({}: {})", panic.name(), panic.message()),
        }
    }

    fn receive_sigterm() {
        // SAFETY: sends a signal to this process; no memory is involved.
        unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
        std::thread::sleep(Duration::from_secs(30));
        println!("the signal did not end the process");
    }

    // ---------------------------------------------------------------------
    // The programs of the single scenarios.

    /// Logging at exit, through `tracing` and a non-blocking file
    /// writer whose guard a static handler drops.
    mod logging {
        use std::sync::{Mutex, PoisonError};

        use tracing_appender::non_blocking::WorkerGuard;

        pub const LOG_FILE: &str = "exit.log";

        static GUARD: Mutex<Option<WorkerGuard>> = Mutex::new(None);

        /// Logs its last words and drops the writer's guard, which writes
        /// out what is queued. Silent where no logging was started.
        #[atexit::register]
        fn last_words() {
            let guard = GUARD.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(guard) = guard {
                tracing::info!("last words");
                drop(guard);
            }
        }

        pub fn start() {
            let dir = std::env::var_os(super::DIR_VAR).expect("the parent gives a directory");
            let (writer, guard) = tracing_appender::non_blocking(tracing_appender::rolling::never(dir, LOG_FILE));
            tracing_subscriber::fmt().with_writer(writer).init();
            *GUARD.lock().unwrap_or_else(PoisonError::into_inner) = Some(guard);
            tracing::info!("main's event");
        }

        pub fn main_returns() {
            start();
        }

        pub fn process_exit() {
            start();
            std::process::exit(0);
        }

        pub fn panics() {
            start();
            panic!("main panics");
        }

        #[atexit::main]
        pub fn attr_main_returns() {
            start();
        }

        #[atexit::main]
        pub fn attr_process_exit() {
            start();
            std::process::exit(0);
        }

        #[atexit::main]
        pub fn attr_panics() {
            start();
            panic!("main panics");
        }
    }

    /// `std::process::exit(4)` from an async handler run on a
    /// runtime built at exit.
    fn process_exit_in_async_handler() {
        atexit::register(|| println!("rest ran"));
        atexit::register_async(Duration::from_secs(3), || async {
            println!("calling std::process::exit(4)");
            std::process::exit(4);
        });
    }

    #[atexit::main]
    fn process_exit_in_async_handler_main() {
        process_exit_in_async_handler();
    }

    /// The `#[atexit::main]` thread-local example of the crate's docs.
    mod doc_example {
        use std::cell::RefCell;

        thread_local! {
            static PENDING: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
        }

        #[atexit::main]
        pub fn main() {
            atexit::register(|| PENDING.with(|p| println!("flushing {:?}", p.borrow())));
            PENDING.with(|p| p.borrow_mut().push("last words".into()));
        }
    }

    /// An async handler that panics on a runtime built at exit.
    fn async_handler_panics() {
        atexit::register(|| println!("rest ran"));
        atexit::register_async(Duration::from_secs(3), || async {
            tokio::task::yield_now().await;
            panic!("async boom");
        });
    }

    /// A time-limited handler holds stderr's lock forever; the
    /// handlers after it panic and print.
    fn stderr_lock_held_by_a_left_behind_handler() {
        atexit::register(|| println!("later handler wrote to stdout"));
        atexit::register(|| panic!("panics after the lock holder"));
        atexit::Registration::new(|| {
            let _guard = std::io::stderr().lock();
            std::thread::sleep(Duration::from_secs(60));
        })
        .name("holds stderr")
        .time_limit(Duration::from_millis(300))
        .register();
    }

    /// An async handler on the application's runtime spawns a task
    /// that calls `std::process::exit(3)`, then goes on awaiting.
    #[atexit::main]
    #[tokio::main]
    async fn task_calls_process_exit_main() {
        atexit::register(|| println!("rest ran"));
        atexit::register_async(Duration::from_secs(2), || async {
            tokio::spawn(async { std::process::exit(3) });
            tokio::time::sleep(Duration::from_millis(200)).await;
            println!("async handler slept");
        });
    }

    /// `atexit::exit(5)` on a thread, `std::process::exit(3)`
    /// on main, at the same moment.
    fn exit_races_process_exit() {
        atexit::register(|| println!("reason: {:?}", atexit::exit_reason()));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let theirs = std::sync::Arc::clone(&barrier);
        std::thread::spawn(move || {
            theirs.wait();
            atexit::exit(5);
        });
        barrier.wait();
        std::process::exit(3);
    }

    /// A handler calls `atexit::exit(123)`; one that runs
    /// after it reads the reason.
    fn reason_after_exit_in_a_handler() {
        atexit::register(|| println!("reason: {:?}", atexit::exit_reason()));
        atexit::register(|| {
            println!("calling exit(123)");
            atexit::exit(123);
        });
    }

    // ---------------------------------------------------------------------
    // What a hostile user tried against the new runtime: each was a defect.

    /// A handler that ends right at its time limit: the rest still run.
    fn handler_ends_at_its_limit() {
        atexit::register(|| println!("rest ran"));
        atexit::Registration::new(|| std::thread::sleep(Duration::from_millis(20)))
            .time_limit(Duration::from_millis(20))
            .register();
    }

    /// A task of the application's runtime calls `std::process::exit(3)`
    /// while an async handler with no limit awaits a timer there: the
    /// exiting thread stops the runtime, so the handler is dropped and the
    /// exit goes on.
    #[atexit::main]
    #[tokio::main]
    async fn runtime_thread_exits_during_unlimited_async_handler() {
        atexit::register(|| println!("rest ran"));
        atexit::register_async(Duration::ZERO, || async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            println!("async handler slept");
        });
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            std::process::exit(3)
        });
    }

    /// The same on a current-thread runtime: the task runs on the thread
    /// that awaits the handler.
    #[atexit::main]
    #[tokio::main(flavor = "current_thread")]
    async fn awaiting_thread_exits_during_async_handler() {
        atexit::register(|| println!("rest ran"));
        atexit::register_async(Duration::from_secs(3), || async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            println!("async handler slept");
        });
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            std::process::exit(3)
        });
    }

    /// Forks from an async handler (run on a runtime built at exit); the
    /// child goes on with the run, runs the inherited handler, and ends as
    /// the exit would.
    fn fork_in_an_async_handler() {
        atexit::Registration::new(|| println!("inherited ran")).inherit_on_fork().register();
        atexit::register_async(Duration::from_secs(10), || async {
            // SAFETY: the child only returns from this future.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                return;
            }
            let mut status = 0;
            // SAFETY: waits for the child just forked.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            println!("child exited {}", libc::WEXITSTATUS(status));
        });
    }

    /// Forks from a handler while C's exit runs the handlers (on a fresh
    /// thread): the child ends with the status its handlers read.
    fn fork_in_a_handler_during_process_exit() {
        atexit::Registration::new(|| println!("reason: {:?}", atexit::exit_reason())).inherit_on_fork().register();
        atexit::register(|| {
            // SAFETY: the child only returns from this handler.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                return;
            }
            let mut status = 0;
            // SAFETY: waits for the child just forked.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            println!("child exited {}", libc::WEXITSTATUS(status));
        });
        std::process::exit(3);
    }

    /// An async handler that leaves blocking work behind when it returns:
    /// the runtime built for it does not wait for that work.
    fn async_handler_leaves_blocking_work(limit: Duration) {
        atexit::register(|| println!("rest ran"));
        atexit::register_async(limit, || async {
            tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_secs(3600)));
            println!("async handler returned");
        });
    }

    // ---------------------------------------------------------------------
    // The harness: scenarios, what they must show, the parent.

    /// A line of stdout, as expected.
    pub enum Line {
        Is(String),
        /// Starts with the first, and contains the second.
        Has(&'static str, &'static str),
    }

    impl Line {
        fn matches(&self, line: &str) -> bool {
            match self {
                Line::Is(expected) => line == expected,
                Line::Has(start, needle) => line.starts_with(start) && line.contains(needle),
            }
        }

        fn describe(&self) -> String {
            match self {
                Line::Is(expected) => format!("{expected:?}"),
                Line::Has(start, needle) => format!("{start:?}...{needle:?}..."),
            }
        }
    }

    /// One run of a child: what it wrote, how it ended, how long it took.
    pub struct Run {
        output: Output,
        elapsed: Duration,
        dir: Option<PathBuf>,
    }

    type Check = Box<dyn Fn(&Run) -> Result<(), String> + Send + Sync>;

    /// A single scenario's program: it returns `main`'s status.
    type Play = fn() -> ExitCode;

    /// What a scenario must show; what is left out is not checked.
    #[derive(Default)]
    pub struct Want {
        /// Every line of stdout, in order.
        stdout: Option<Vec<Line>>,
        status: Option<Status>,
        stderr_has: Vec<String>,
        stderr_lacks: Vec<String>,
        /// A line of stderr starts with the first and contains the second.
        stderr_line: Vec<(String, String)>,
        /// The child ends within this long.
        within: Option<Duration>,
        /// The handler the child names on stderr (after [`UNDER_TEST`]) is
        /// traced, and never as `ok`.
        never_traced_ok: bool,
        check: Option<Check>,
    }

    pub struct Scenario {
        name: String,
        /// `None` for a grid cell, which the child decodes from its name.
        play: Option<Play>,
        env: Vec<(&'static str, String)>,
        /// The parent makes a fresh directory for each run ([`DIR_VAR`]).
        temp_dir: bool,
        runs: usize,
        want: Want,
    }

    impl Scenario {
        fn new(name: &str, play: Play, want: Want) -> Scenario {
            Scenario { name: name.to_owned(), play: Some(play), env: Vec::new(), temp_dir: false, runs: 1, want }
        }

        fn env(mut self, name: &'static str, value: &str) -> Scenario {
            self.env.push((name, value.to_owned()));
            self
        }

        fn with_temp_dir(mut self) -> Scenario {
            self.temp_dir = true;
            self
        }

        fn runs(mut self, runs: usize) -> Scenario {
            self.runs = runs;
            self
        }

        /// When a child that has not ended counts as hung, and is killed.
        fn kill_after(&self) -> Duration {
            self.want.within.map_or(Duration::from_secs(10), |within| within + Duration::from_secs(2))
        }
    }

    fn lines(stdout: &[&str]) -> Option<Vec<Line>> {
        Some(stdout.iter().map(|line| Line::Is((*line).to_owned())).collect())
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The single scenarios.
    fn single() -> Vec<Scenario> {
        let mut cases = Vec::new();

        // Logging at exit, on three paths, with and without
        // `#[atexit::main]`.
        let logging: [(&str, Play, Status); 6] = [
            (
                "logging_main_returns",
                || {
                    logging::main_returns();
                    ExitCode::SUCCESS
                },
                Status::Code(0),
            ),
            (
                "logging_process_exit",
                || {
                    logging::process_exit();
                    ExitCode::SUCCESS
                },
                Status::Code(0),
            ),
            (
                "logging_panic",
                || {
                    logging::panics();
                    ExitCode::SUCCESS
                },
                Status::Code(101),
            ),
            ("logging_attr_main_returns", logging::attr_main_returns, Status::Code(0)),
            ("logging_attr_process_exit", logging::attr_process_exit, Status::Code(0)),
            ("logging_attr_panic", logging::attr_panics, Status::Code(101)),
        ];
        for (name, play, status) in logging {
            let panics = usize::from(status == Status::Code(101));
            let want = Want {
                status: Some(status),
                stderr_lacks: strings(&[HANDLER_REPORT, TLS_DESTROYED]),
                check: Some(Box::new(move |run| {
                    let stderr = String::from_utf8_lossy(&run.output.stderr);
                    let seen = stderr.matches("panicked at").count();
                    if seen != panics {
                        return Err(format!("{seen} panics on stderr, expected {panics} (main's own)"));
                    }
                    let dir = run.dir.as_ref().expect("a directory");
                    let log = std::fs::read_to_string(dir.join(logging::LOG_FILE))
                        .map_err(|e| format!("reading the log file: {e}"))?;
                    let missing: Vec<_> =
                        ["main's event", "last words"].into_iter().filter(|event| !log.contains(event)).collect();
                    if missing.is_empty() { Ok(()) } else { Err(format!("the log lacks {missing:?}: {log:?}")) }
                })),
                ..Want::default()
            };
            cases.push(Scenario::new(name, play, want).with_temp_dir());
        }

        // `std::process::exit(4)` from an async handler (on a
        // runtime built at exit), in runs begun three ways.
        let process_exit_in_async_handler_expect = |extra: &[&str]| Want {
            stdout: lines(&[&["calling std::process::exit(4)", "rest ran"][..], extra].concat()),
            status: Some(Status::Code(4)),
            stderr_lacks: strings(&[HANDLER_REPORT, "re-entrantly"]),
            within: Some(Duration::from_secs(2)),
            ..Want::default()
        };
        cases.push(Scenario::new(
            "process_exit_in_async_handler_atexit_exit",
            || {
                process_exit_in_async_handler();
                atexit::exit(1)
            },
            process_exit_in_async_handler_expect(&[]),
        ));
        cases.push(Scenario::new(
            "process_exit_in_async_handler_main_attr",
            process_exit_in_async_handler_main,
            process_exit_in_async_handler_expect(&[]),
        ));
        cases.push(Scenario::new(
            "process_exit_in_async_handler_run_exitfuncs",
            || {
                process_exit_in_async_handler();
                report_run();
                ExitCode::SUCCESS
            },
            process_exit_in_async_handler_expect(&[]),
        ));

        // The docs' thread-local example, with and without a time
        // limit for every handler: the same output.
        let doc_thread_local_example_expect = || Want {
            stdout: lines(&["flushing [\"last words\"]"]),
            status: Some(Status::Code(0)),
            stderr_lacks: strings(&["panicked", TLS_DESTROYED]),
            ..Want::default()
        };
        cases.push(Scenario::new("doc_thread_local_example", doc_example::main, doc_thread_local_example_expect()));
        cases.push(
            Scenario::new(
                "doc_thread_local_example_with_a_time_limit",
                doc_example::main,
                doc_thread_local_example_expect(),
            )
            .env("ATEXIT_HANDLER_TIME_LIMIT_MS", "5000"),
        );

        // An async handler panics on a runtime built at exit.
        let async_panic_expect = |stdout: Vec<Line>| Want {
            stdout: Some(stdout),
            status: Some(Status::Code(0)),
            stderr_line: vec![(HANDLER_REPORT.to_owned(), "panicked: async boom".to_owned())],
            ..Want::default()
        };
        cases.push(Scenario::new(
            "async_panic_main_returns",
            || {
                async_handler_panics();
                ExitCode::SUCCESS
            },
            async_panic_expect(vec![Line::Is("rest ran".to_owned())]),
        ));
        cases.push(Scenario::new(
            "async_panic_run_exitfuncs",
            || {
                async_handler_panics();
                report_run();
                ExitCode::SUCCESS
            },
            async_panic_expect(vec![Line::Is("rest ran".to_owned()), Line::Has("run_exitfuncs: Err(", "async boom")]),
        ));

        // A future dropped at its limit is not traced `ok` after
        // the line that says so (the grid's `overrun` cells check more).
        const EXIT_RUNTIME: Cell = Cell { way: Way::AsyncExit, path: Path::Return, promise: Promise::OverrunAwait };
        const APP_RUNTIME: Cell = Cell { way: Way::AsyncApp, path: Path::MainAttr, promise: Promise::OverrunAwait };
        let dropped: [(&str, Cell, Play); 2] = [
            ("dropped_future_not_traced_ok_exit_runtime", EXIT_RUNTIME, || play_cell(EXIT_RUNTIME)),
            ("dropped_future_not_traced_ok_app_runtime", APP_RUNTIME, || play_cell(APP_RUNTIME)),
        ];
        for (name, cell, play) in dropped {
            let want = Want {
                stderr_has: strings(&["time limit"]),
                within: Some(Duration::from_secs(3)),
                check: Some(Box::new(|run| {
                    let stderr = String::from_utf8_lossy(&run.output.stderr);
                    let name = under_test(&stderr).ok_or("the child did not name its handler")?;
                    let mut after = stderr.lines().skip_while(|line| !line.contains("time limit"));
                    match after.find(|line| traced_as(line, name).is_some_and(|said| said.starts_with("ok"))) {
                        Some(line) => Err(format!("traced `ok` after it was dropped: {line:?}")),
                        None => Ok(()),
                    }
                })),
                ..Want::default()
            };
            let mut scenario = Scenario::new(name, play, want);
            scenario.env = cell.env();
            cases.push(scenario);
        }

        // A handler left behind holding stderr's lock cannot hold
        // up the runtime's own writes (trace, panic report), nor the exit.
        cases.push(
            Scenario::new(
                "left_behind_handler_holds_stderr_lock",
                || {
                    stderr_lock_held_by_a_left_behind_handler();
                    ExitCode::SUCCESS
                },
                Want {
                    stdout: lines(&["later handler wrote to stdout"]),
                    status: Some(Status::Code(0)),
                    within: Some(Duration::from_secs(5)),
                    ..Want::default()
                },
            )
            .env("ATEXIT_TRACE", "1"),
        );

        // A task of the application's runtime calls
        // `std::process::exit(3)` while an async handler awaits there.
        cases.push(Scenario::new(
            "task_calls_process_exit_during_async_handler",
            task_calls_process_exit_main,
            Want { status: Some(Status::Code(3)), within: Some(Duration::from_secs(5)), ..Want::default() },
        ));

        // The status agrees with the reason the handlers read,
        // whichever of two racing exits wins; 30 runs.
        cases.push(
            Scenario::new(
                "exit_races_process_exit",
                || {
                    exit_races_process_exit();
                    ExitCode::SUCCESS
                },
                Want {
                    within: Some(Duration::from_secs(5)),
                    check: Some(Box::new(|run| {
                        let stdout = String::from_utf8_lossy(&run.output.stdout);
                        let reasons: Vec<&str> = stdout.lines().filter(|l| l.starts_with("reason: ")).collect();
                        let status = common::status_of(&run.output);
                        match (reasons.as_slice(), status) {
                            (["reason: Some(Exit(5))"], Some(Status::Code(5)))
                            | (["reason: Some(ProcessExit(Some(3)))"], Some(Status::Code(3))) => Ok(()),
                            _ => Err(format!("status {status:?} and the handlers read {reasons:?}: they disagree")),
                        }
                    })),
                    ..Want::default()
                },
            )
            .runs(30),
        );

        // After a handler's `atexit::exit(123)`, the reason
        // says so.
        let reason_after_exit_in_a_handler_expect = || Want {
            stdout: lines(&["calling exit(123)", "reason: Some(Exit(123))"]),
            status: Some(Status::Code(123)),
            ..Want::default()
        };
        cases.push(Scenario::new(
            "reason_after_exit_in_a_handler_return",
            || {
                reason_after_exit_in_a_handler();
                ExitCode::SUCCESS
            },
            reason_after_exit_in_a_handler_expect(),
        ));
        cases.push(Scenario::new(
            "reason_after_exit_in_a_handler_atexit_exit",
            || {
                reason_after_exit_in_a_handler();
                atexit::exit(5)
            },
            reason_after_exit_in_a_handler_expect(),
        ));

        // A hostile user's findings.
        cases.push(
            Scenario::new(
                "hostile_handler_ends_at_its_limit",
                || {
                    handler_ends_at_its_limit();
                    ExitCode::SUCCESS
                },
                Want { stdout: lines(&["rest ran"]), status: Some(Status::Code(0)), ..Want::default() },
            )
            .runs(30),
        );
        cases.push(Scenario::new(
            "hostile_runtime_thread_exits_during_unlimited_async_handler",
            runtime_thread_exits_during_unlimited_async_handler,
            Want {
                stdout: lines(&["rest ran"]),
                stderr_has: strings(&["dropped: a thread of its runtime called exit"]),
                status: Some(Status::Code(3)),
                within: Some(Duration::from_secs(3)),
                ..Want::default()
            },
        ));
        cases.push(Scenario::new(
            "hostile_awaiting_thread_exits_during_async_handler",
            awaiting_thread_exits_during_async_handler,
            Want {
                stdout: lines(&["rest ran"]),
                stderr_has: strings(&["dropped: the thread awaiting it called exit"]),
                status: Some(Status::Code(3)),
                within: Some(Duration::from_secs(3)),
                ..Want::default()
            },
        ));
        cases.push(Scenario::new(
            "hostile_fork_in_an_async_handler_during_atexit_exit",
            || {
                fork_in_an_async_handler();
                atexit::exit(5)
            },
            Want {
                stdout: lines(&["inherited ran", "child exited 5", "inherited ran"]),
                status: Some(Status::Code(5)),
                within: Some(Duration::from_secs(5)),
                ..Want::default()
            },
        ));
        cases.push(Scenario::new(
            "hostile_fork_in_a_handler_during_process_exit",
            || {
                fork_in_a_handler_during_process_exit();
                ExitCode::SUCCESS
            },
            Want {
                stdout: lines(&[
                    "reason: Some(ProcessExit(Some(3)))",
                    "child exited 3",
                    "reason: Some(ProcessExit(Some(3)))",
                ]),
                status: Some(Status::Code(3)),
                within: Some(Duration::from_secs(5)),
                ..Want::default()
            },
        ));
        for (name, limit) in [
            ("hostile_async_handler_leaves_blocking_work", Duration::ZERO),
            ("hostile_async_handler_leaves_blocking_work_with_a_limit", Duration::from_secs(5)),
        ] {
            let play: Play = if limit.is_zero() {
                || {
                    async_handler_leaves_blocking_work(Duration::ZERO);
                    ExitCode::SUCCESS
                }
            } else {
                || {
                    async_handler_leaves_blocking_work(Duration::from_secs(5));
                    ExitCode::SUCCESS
                }
            };
            cases.push(Scenario::new(
                name,
                play,
                Want {
                    stdout: lines(&["async handler returned", "rest ran"]),
                    stderr_lacks: strings(&["time limit"]),
                    status: Some(Status::Code(0)),
                    // Well short of the limit, and of the blocking work's hour.
                    within: Some(Duration::from_secs(3)),
                    ..Want::default()
                },
            ));
        }

        // Extreme durations. Zero is no limit, as everywhere; the
        // largest is no limit in practice; a call beats the environment.
        let ran = |line: &str| Want {
            stdout: lines(&[line]),
            status: Some(Status::Code(0)),
            stderr_lacks: strings(&["panicked", "time limit"]),
            ..Want::default()
        };
        cases.push(Scenario::new(
            "async_limit_max",
            || {
                atexit::register_async(Duration::MAX, || async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    println!("async handler with Duration::MAX ran");
                });
                ExitCode::SUCCESS
            },
            ran("async handler with Duration::MAX ran"),
        ));
        cases.push(Scenario::new(
            "async_limit_zero",
            || {
                atexit::register_async(Duration::ZERO, || async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    println!("async handler with Duration::ZERO ran");
                });
                ExitCode::SUCCESS
            },
            ran("async handler with Duration::ZERO ran"),
        ));
        cases.push(Scenario::new(
            "registration_limit_zero",
            || {
                atexit::Registration::new(|| {
                    std::thread::sleep(Duration::from_millis(200));
                    println!("handler with Duration::ZERO ran to its end");
                })
                .time_limit(Duration::ZERO)
                .register();
                ExitCode::SUCCESS
            },
            ran("handler with Duration::ZERO ran to its end"),
        ));
        cases.push(
            Scenario::new(
                "deadline_max_beats_environment",
                || {
                    atexit::set_deadline(Duration::from_nanos(u64::MAX));
                    atexit::register(|| {
                        std::thread::sleep(Duration::from_millis(500));
                        println!("handler slept 500 ms");
                    });
                    ExitCode::SUCCESS
                },
                ran("handler slept 500 ms"),
            )
            .env("ATEXIT_DEADLINE_MS", "100"),
        );
        cases
    }

    fn grid_scenario(cell: Cell) -> Scenario {
        Scenario { name: cell.name(), play: None, env: cell.env(), temp_dir: false, runs: 1, want: expected(cell) }
    }

    /// The name the child gave its handler under test.
    fn under_test(stderr: &str) -> Option<&str> {
        stderr.lines().find_map(|line| line.strip_prefix(UNDER_TEST))
    }

    /// What a trace line says of the handler `name` (`ok in 1ms`, ...), if
    /// it is one of its.
    fn traced_as<'a>(line: &'a str, name: &str) -> Option<&'a str> {
        let rest = line.strip_prefix("atexit: trace: ")?;
        let rest = rest.strip_prefix('`').unwrap_or(rest).strip_prefix(name)?;
        // `name` ends before the closure's line and column.
        let rest = if name.ends_with(':') { rest.split_once('}')?.1 } else { rest };
        let rest = rest.strip_prefix('`').unwrap_or(rest);
        rest.strip_prefix(' ')
    }

    fn verify(want: &Want, run: &Run) -> Vec<String> {
        let stdout = String::from_utf8_lossy(&run.output.stdout);
        let stderr = String::from_utf8_lossy(&run.output.stderr);
        let mut problems = Vec::new();
        if let Some(expected) = &want.stdout {
            let got: Vec<&str> = stdout.lines().collect();
            let fits = got.len() == expected.len() && expected.iter().zip(&got).all(|(line, got)| line.matches(got));
            if !fits || (!stdout.is_empty() && !stdout.ends_with('\n')) {
                let expected: Vec<String> = expected.iter().map(Line::describe).collect();
                problems.push(format!("stdout was {stdout:?}, expected the lines [{}]", expected.join(", ")));
            }
        }
        let status = common::status_of(&run.output);
        if let Some(expected) = want.status {
            if status != Some(expected) {
                problems.push(format!("status was {status:?}, expected {expected:?}"));
            }
        }
        for needle in &want.stderr_has {
            if !stderr.contains(needle.as_str()) {
                problems.push(format!("stderr lacks {needle:?}"));
            }
        }
        for needle in &want.stderr_lacks {
            if stderr.contains(needle.as_str()) {
                problems.push(format!("stderr has {needle:?}"));
            }
        }
        for (start, needle) in &want.stderr_line {
            if !stderr.lines().any(|line| line.starts_with(start.as_str()) && line.contains(needle.as_str())) {
                problems.push(format!("no line of stderr starts with {start:?} and has {needle:?}"));
            }
        }
        if let Some(within) = want.within {
            if run.elapsed > within {
                problems.push(format!("took {:?}, more than {within:?}", run.elapsed));
            }
        }
        if want.never_traced_ok {
            match under_test(&stderr) {
                None => problems.push("the child did not name its handler under test".to_owned()),
                Some(name) => {
                    let said: Vec<&str> = stderr.lines().filter_map(|line| traced_as(line, name)).collect();
                    if said.is_empty() {
                        problems.push(format!("no trace line for `{name}`"));
                    } else if said.iter().any(|said| said.starts_with("ok")) {
                        problems.push(format!("`{name}` was traced `ok`: {said:?}"));
                    }
                }
            }
        }
        if let Some(Err(problem)) = want.check.as_ref().map(|check| check(run)) {
            problems.push(problem);
        }
        problems
    }

    /// Runs the scenario's child `runs` times; the first run that fails
    /// says why.
    fn run_scenario(exe: &std::path::Path, scenario: &Scenario) -> Result<(), String> {
        for round in 1..=scenario.runs {
            let mut command = Command::new(exe);
            // The runtime's settings come from the scenario alone.
            // A backtrace would only slow the panicking children down.
            for var in ["ATEXIT_TRACE", "ATEXIT_DEADLINE_MS", "ATEXIT_HANDLER_TIME_LIMIT_MS", "RUST_BACKTRACE"] {
                command.env_remove(var);
            }
            command.env("ATEXIT_SCENARIO", &scenario.name);
            command.envs(scenario.env.iter().map(|(k, v)| (k, v)));
            let dir = scenario.temp_dir.then(|| fresh_dir(&scenario.name));
            if let Some(dir) = &dir {
                command.env(DIR_VAR, dir);
            }
            let started = Instant::now();
            let output = common::output_within(command, scenario.kill_after());
            let elapsed = started.elapsed();
            let outcome = output.map(|output| {
                let run = Run { output, elapsed, dir: dir.clone() };
                let problems = verify(&scenario.want, &run);
                (run, problems)
            });
            if let Some(dir) = &dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            let (run, problems) = outcome.map_err(|hung| format!("run {round}: {hung}"))?;
            if !problems.is_empty() {
                let stdout = String::from_utf8_lossy(&run.output.stdout);
                let stderr: String = String::from_utf8_lossy(&run.output.stderr).chars().take(2000).collect();
                let round =
                    if scenario.runs > 1 { format!("run {round} of {}: ", scenario.runs) } else { String::new() };
                return Err(format!(
                    "{round}{}\n  stdout: {stdout:?}\n  stderr: {stderr:?}\n  took {:?}",
                    problems.join("\n  "),
                    run.elapsed
                ));
            }
        }
        Ok(())
    }

    fn fresh_dir(name: &str) -> PathBuf {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let unique = format!(
            "atexit-promises-{}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst),
            name.replace('/', "-")
        );
        let dir = std::env::temp_dir().join(unique);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        dir
    }

    /// The child plays its scenario; the parent runs them all.
    pub fn main() -> ExitCode {
        if let Ok(name) = std::env::var("ATEXIT_SCENARIO") {
            if let Some(cell) = Cell::parse(&name) {
                return play_cell(cell);
            }
            let case = single().into_iter().find(|case| case.name == name).expect("unknown scenario");
            return (case.play.expect("a single scenario has a program"))();
        }
        // The parent is no scenario: the binary's static handlers are not under test here.
        atexit::clear();
        let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
        let scenarios: Vec<Scenario> = cells()
            .map(grid_scenario)
            .chain(single())
            .filter(|s| filters.is_empty() || filters.iter().any(|f| s.name.contains(f.as_str())))
            .collect();
        let jobs = std::env::var("ATEXIT_TEST_JOBS").ok().and_then(|j| j.parse().ok()).unwrap_or(4_usize).max(1);
        let exe = std::env::current_exe().expect("own path");
        let started = Instant::now();
        let next = AtomicUsize::new(0);
        let failures = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                scope.spawn(|| {
                    while let Some(scenario) = scenarios.get(next.fetch_add(1, Ordering::SeqCst)) {
                        match run_scenario(&exe, scenario) {
                            Ok(()) => println!("promise {} ... ok", scenario.name),
                            Err(why) => {
                                println!("promise {} ... FAILED\n  {why}", scenario.name);
                                failures.lock().unwrap_or_else(PoisonError::into_inner).push(scenario.name.clone());
                            }
                        }
                    }
                });
            }
        });
        let mut failed = failures.into_inner().unwrap_or_else(PoisonError::into_inner);
        let mut passed = scenarios.len() - failed.len();
        if filters.is_empty() && failed.is_empty() {
            match common::check_readme_table(GRID_BEGIN, GRID_END, &grid_table()) {
                Ok(()) => {
                    passed += 1;
                    println!("promise table in README.md ... ok");
                }
                Err(why) => {
                    failed.push("the README's promise table".to_owned());
                    println!("promise table in README.md ... FAILED\n  {why}");
                }
            }
        }
        if !failed.is_empty() {
            failed.sort();
            println!("\nfailures:\n    {}", failed.join("\n    "));
        }
        println!("\n{} cells, {} single scenarios; {:?}", cells().count(), single().len(), started.elapsed());
        println!("\n{passed} passed, {} failed", failed.len());
        if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
    }
}
