//! Showing a validated change to the user: the coloured preview and the confirmation.

pub mod render;
