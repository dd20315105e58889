//! edgemicro-diag: the diagnostic bundle for an Apigee Edge Microgateway 502/ECONNRESET case.
//! Everything is in the library; `app::main` parses, runs and gives one of the codes in
//! `exit.rs`.

fn main() -> std::process::ExitCode {
    edgemicro_diag::main()
}
