fn main() {
    println!("prof-grpo");
}
