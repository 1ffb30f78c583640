fn main() {
    println!("cardbatch (being built)");
}
