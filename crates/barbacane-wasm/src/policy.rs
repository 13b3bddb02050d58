//! Rego policies compiled once per artifact load and evaluated natively (regorus) for
//! `barbacane:policy.eval`.
//!
//! A [`PolicySet`] holds one compiled policy per (bundle, rule) pair the artifact's
//! configurations use. Each is compiled twice: for regorus's interpreter (a
//! `CompiledPolicy`, which walks the AST with a new interpreter per evaluation) and, when
//! regorus's bytecode compiler supports everything the rule reaches, to an RVM program,
//! run by virtual machines kept in a small pool per rule (one per thread evaluating it at
//! once) so an evaluation allocates little and walks no tree. A rule the bytecode compiler
//! refuses (the `with` keyword, some partial object rules) is interpreted, and so is an
//! evaluation the machine fails (a limit of its own, an internal error).
//!
//! The two agree on every evaluation the interpreter completes. They differ where the
//! interpreter fails: a builtin or an arithmetic operator given the wrong types, a complete
//! rule with two different values. The interpreter fails the whole evaluation (the plugin
//! answers 500); the machine, which cannot report these, leaves the expression or rule
//! undefined, as OPA does by default for builtins. An undefined answer is therefore
//! evaluated again by the interpreter (so a failure in the queried rule itself still fails
//! the evaluation, and a rule undefined without a `default` costs the interpreter's time);
//! a failure deeper down, in a rule the queried one reads, stays undefined there (so
//! `not r` holds when `r` failed, and a `default` applies).
//! Comparisons across types never fail (`"x" < 5` is ordered by type, as the interpreter
//! orders them), which is why the machine runs with strict builtin errors off: on, it fails
//! those comparisons where the interpreter does not.
//!
//! With regorus's `arc` feature compiled policies and programs are `Send + Sync`: every
//! worker thread evaluates the same ones.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use regorus::rvm::{Program, RegoVM};

/// A policy that does not compile, with regorus's message (file:line:col included).
#[derive(Debug, thiserror::Error)]
#[error("policy `{policy}`: {message}")]
pub struct PolicyError {
    /// The bundle's name.
    pub policy: String,
    /// What regorus reported.
    pub message: String,
}

/// The compiled policies of one artifact, by bundle name then rule (nested so that a lookup
/// on the request path borrows its keys instead of allocating a pair).
#[derive(Default)]
pub struct PolicySet {
    compiled: HashMap<String, HashMap<String, Rule>>,
}

/// One rule of one bundle, compiled for both evaluators.
struct Rule {
    interpreted: regorus::CompiledPolicy,
    /// `None`: the bytecode compiler does not support this rule.
    program: Option<Arc<Program>>,
    /// Machines loaded with `program`, idle between evaluations.
    machines: Mutex<Vec<RegoVM>>,
}

/// Instructions one evaluation may execute on the machine. The interpreter has no such
/// limit, so the machine's (25,000) would fail policies the interpreter evaluates; this one
/// only guards against a runaway program.
const MAX_INSTRUCTIONS: usize = u32::MAX as usize;

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field(
                "policies",
                &self
                    .compiled
                    .iter()
                    .flat_map(|(name, rules)| {
                        rules
                            .iter()
                            .map(move |(rule, c)| (name, rule, c.program.is_some()))
                    })
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

// Evaluation happens on every worker thread at once, on the one compiled copy.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<PolicySet>();
};

impl PolicySet {
    /// Compiles the bundle `name` (its `.rego` files as (name, source) pairs) once per rule
    /// of `queries`, adding each to the set.
    pub fn add(
        &mut self,
        name: &str,
        files: &[(String, String)],
        queries: &[String],
    ) -> Result<(), PolicyError> {
        let fail = |e: &dyn std::fmt::Display| PolicyError {
            policy: name.to_owned(),
            message: e.to_string(),
        };
        // Rego v1 (OPA 1.0 syntax: `if`, `contains`), regorus's default.
        let mut engine = regorus::Engine::new();
        for (file, source) in files {
            engine
                .add_policy(file.clone(), source.clone())
                .map_err(|e| fail(&e))?;
        }
        for query in queries {
            let interpreted = engine
                .compile_with_entrypoint(&query.as_str().into())
                .map_err(|e| fail(&e))?;
            // A machine made now proves the program loads; it is the first idle one.
            let compiled = regorus::languages::rego::compiler::Compiler::compile_from_policy(
                &interpreted,
                &[query.as_str()],
            )
            .map_err(|e| e.to_string())
            .and_then(|program| Ok((new_machine(&program).map_err(|e| e.to_string())?, program)));
            let (program, machines) = match compiled {
                Ok((first, program)) => (Some(program), vec![first]),
                Err(e) => {
                    tracing::debug!(policy = name, rule = query.as_str(), error = %e,
                        "rule left to the interpreter");
                    (None, Vec::new())
                }
            };
            let rule = Rule {
                interpreted,
                program,
                machines: Mutex::new(machines),
            };
            self.compiled
                .entry(name.to_owned())
                .or_default()
                .insert(query.clone(), rule);
        }
        Ok(())
    }

    /// Whether the set holds no policy.
    pub fn is_empty(&self) -> bool {
        self.compiled.is_empty()
    }

    /// Evaluates rule `query` of bundle `policy` over `input`: `Ok(None)` when the rule is
    /// undefined for this input.
    pub(crate) fn eval(
        &self,
        policy: &str,
        query: &str,
        input: regorus::Value,
    ) -> Result<Option<regorus::Value>, String> {
        let rule = self
            .compiled
            .get(policy)
            .and_then(|rules| rules.get(query))
            .ok_or_else(|| format!("no policy `{policy}` with rule `{query}` in this artifact"))?;
        let value = match rule.run(input.clone()) {
            // Undefined may be an error the machine could not report: the interpreter tells.
            Some(Ok(regorus::Value::Undefined)) => rule.interpret(input)?,
            Some(Ok(value)) => value,
            Some(Err(e)) => {
                tracing::debug!(policy, rule = query, error = %e,
                    "the bytecode machine failed; interpreting");
                rule.interpret(input)?
            }
            None => rule.interpret(input)?,
        };
        Ok((value != regorus::Value::Undefined).then_some(value))
    }
}

impl Rule {
    /// Runs the rule's program on an idle machine (a new one when every machine is busy);
    /// `None` when the rule has no program.
    fn run(
        &self,
        input: regorus::Value,
    ) -> Option<Result<regorus::Value, regorus::rvm::vm::VmError>> {
        let program = self.program.as_ref()?;
        let idle = self
            .machines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut machine = match idle {
            Some(machine) => machine,
            None => match new_machine(program) {
                Ok(machine) => machine,
                Err(e) => return Some(Err(e)),
            },
        };
        machine.set_input(input);
        let result = machine.execute_entry_point_by_index(0);
        // The input goes now; values derived from it (rule results) stay in the machine
        // until its next run.
        machine.set_input(regorus::Value::Null);
        self.machines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(machine);
        Some(result)
    }

    fn interpret(&self, input: regorus::Value) -> Result<regorus::Value, String> {
        self.interpreted
            .eval_with_input(input)
            .map_err(|e| e.to_string())
    }
}

/// A machine for `program`, with the interpreter's empty `data` (strict builtin errors off:
/// see the module documentation).
fn new_machine(program: &Arc<Program>) -> Result<RegoVM, regorus::rvm::vm::VmError> {
    let mut machine = RegoVM::new();
    machine.load_program(Arc::clone(program));
    machine.set_data(regorus::Value::new_object())?;
    machine.set_strict_builtin_errors(false);
    machine.set_max_instructions(MAX_INSTRUCTIONS);
    Ok(machine)
}

#[cfg(test)]
mod tests;
