use thiserror::Error;

/// What can go wrong loading or running a plugin.
#[derive(Debug, Error)]
pub enum WasmError {
    /// The engine could not be set up.
    #[error("cannot start the WASM engine: {0}")]
    Engine(String),
    /// The module is not valid WebAssembly or cannot be compiled.
    #[error("plugin `{plugin}` cannot be compiled: {message}")]
    Compile {
        /// Plugin name.
        plugin: String,
        /// Why.
        message: String,
    },
    /// The module imports something its declared capabilities do not allow.
    #[error(
        "plugin `{plugin}` imports `{module}.{name}`, which its declared capabilities do not allow"
    )]
    UndeclaredImport {
        /// Plugin name.
        plugin: String,
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// A required export is missing or has the wrong type.
    #[error("plugin `{plugin}` does not export `{export}` as the ABI requires")]
    MissingExport {
        /// Plugin name.
        plugin: String,
        /// The export.
        export: &'static str,
    },
    /// `init` refused the configuration.
    #[error("plugin `{plugin}` refused its configuration: {message}")]
    Init {
        /// Plugin name.
        plugin: String,
        /// The plugin's message (`set_output`) or the return code.
        message: String,
    },
    /// The call trapped (including memory limits).
    #[error("plugin `{plugin}` trapped in `{function}`: {message}")]
    Trap {
        /// Plugin name.
        plugin: String,
        /// The export called.
        function: &'static str,
        /// The trap.
        message: String,
    },
    /// The call ran past its time limit.
    #[error("plugin `{plugin}` ran past its time limit in `{function}`")]
    Timeout {
        /// Plugin name.
        plugin: String,
        /// The export called.
        function: &'static str,
    },
    /// Every instance of the plugin's configuration is busy (past the wait), or the engine
    /// has no slot left for a new one.
    #[error("plugin `{plugin}` has no free instance (overloaded)")]
    Overloaded {
        /// Plugin name.
        plugin: String,
    },
    /// The call returned a value the ABI does not define.
    #[error("plugin `{plugin}` returned {code} from `{function}`, which the ABI does not define")]
    BadReturn {
        /// Plugin name.
        plugin: String,
        /// The export called.
        function: &'static str,
        /// The value.
        code: i32,
    },
}
