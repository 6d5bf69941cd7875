//! The keys a config or recipe table accepts, read from its `Deserialize` struct: so the
//! reference docs, `check` and error messages never keep a list in step by hand.

use serde::de::DeserializeOwned;

/// The keys a `#[derive(Deserialize)]` struct takes, as the derive hands them to
/// `deserialize_struct`: taken from the struct itself, so no list is kept in step by hand.
pub fn keys_of<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    // The probe always fails: the fields are what it came for.
    let _ = T::deserialize(Probe(&mut fields));
    fields
}
