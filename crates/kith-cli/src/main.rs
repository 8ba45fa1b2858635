//! The `kith` binary: [`kith_cli::main`] does everything (exit codes: 0 success, 1 an error
//! with its message on stderr and no output file left behind, 2 a usage error).

fn main() -> std::process::ExitCode {
    kith_cli::main()
}
