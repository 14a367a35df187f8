// `Self = Type` takes a path; a generic type is named through an alias.
struct Pool<T>(T);

impl Pool<u8> {
    #[atexit::register(Self = Pool<u8>)]
    fn drain() {}
}

fn main() {
    let _ = Pool(0u8);
}
