//! What reaches the terminal from files kneo-otel did not write: every byte passes one
//! control-character filter, so a folder file cannot drive the terminal it is printed on.

/// `text` with every control character but newline and tab (C0, DEL, C1: ESC, CSI, OSC,
/// carriage return, …) replaced by U+FFFD.
pub fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}
