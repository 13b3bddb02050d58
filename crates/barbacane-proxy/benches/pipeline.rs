//! The whole request pipeline in process (no sockets): a mock route, and route lookup in a
//! 1,000-operation artifact, plus loading that artifact.

fn main() {}
