//! Checking broker messages before they are forwarded to a subscriber (AsyncAPI `receive`
//! operations): each message's payload schema compiled once, a payload accepted when it is
//! JSON matching one of them.

use std::collections::BTreeMap;

use jsonschema::Validator;
use serde_json::Value;

use crate::SchemaError;

/// The messages of one operation, compiled.
pub struct MessageValidator {
    /// Name, and the compiled payload schema (`None`: any payload is this message).
    messages: Vec<(String, Option<Validator>)>,
}

impl std::fmt::Debug for MessageValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.messages.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("MessageValidator")
            .field("messages", &names)
            .finish()
    }
}

impl MessageValidator {
    /// Compiles each message's schema (`#/$defs/NAME` resolved in `definitions`); a schema
    /// that does not compile is an error, never a skipped check.
    pub fn new<'m>(
        messages: impl IntoIterator<Item = (&'m str, Option<&'m Value>)>,
        definitions: &BTreeMap<String, Value>,
    ) -> Result<MessageValidator, SchemaError> {
        let mut out = Vec::new();
        for (name, schema) in messages {
            let compiled = match schema {
                None => None,
                Some(schema) => {
                    let whole = crate::definitions::self_contained(schema, definitions);
                    Some(crate::operation::compile(
                        &whole,
                        format!("message {name}"),
                    )?)
                }
            };
            out.push((name.to_owned(), compiled));
        }
        Ok(MessageValidator { messages: out })
    }

    /// The name of the first message `payload` is: a message without a schema takes any
    /// payload, one with a schema takes JSON that matches it. `None`: no message matches
    /// (or the operation has no messages).
    pub fn classify(&self, payload: &[u8]) -> Option<&str> {
        let mut parsed: Option<Option<Value>> = None;
        for (name, schema) in &self.messages {
            let Some(schema) = schema else {
                return Some(name);
            };
            let value = parsed.get_or_insert_with(|| serde_json::from_slice(payload).ok());
            if let Some(value) = value
                && schema.is_valid(value)
            {
                return Some(name);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_matching_message_names_the_payload() {
        let defs: BTreeMap<String, Value> =
            [("Id".to_owned(), json!({"type": "string", "minLength": 2}))].into();
        let placed = json!({"type": "object", "required": ["id"], "properties": {"id": {"$ref": "#/$defs/Id"}}});
        let cancelled = json!({"type": "object", "required": ["reason"]});
        let v = MessageValidator::new(
            [("placed", Some(&placed)), ("cancelled", Some(&cancelled))],
            &defs,
        )
        .unwrap();
        assert_eq!(v.classify(br#"{"id":"ab"}"#), Some("placed"));
        assert_eq!(v.classify(br#"{"reason":"x"}"#), Some("cancelled"));
        assert_eq!(v.classify(br#"{"id":"a"}"#), None);
        assert_eq!(v.classify(b"not json"), None);
        let any = MessageValidator::new([("raw", None)], &defs).unwrap();
        assert_eq!(any.classify(b"not json"), Some("raw"));
        assert!(MessageValidator::new([("bad", Some(&json!({"type": 1})))], &defs).is_err());
    }
}
