//! The page `/dashboard/` serves: a frame with the sign-in form and the place the views go. It
//! holds no data, so it needs no token; the script fills it (assets/dashboard/dashboard.js).

use maud::{html, Markup, DOCTYPE};

pub fn page() -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "meterguard" }
                // Relative, so the page works under whatever prefix a proxy serves it.
                link rel="stylesheet" href="assets/style/";
                script src="assets/script/" defer {}
            }
            body {
                a class="skip" href="#view" { "Skip to content" }
                header class="top" {
                    a class="brand" href="#/" { "meterguard" }
                    nav aria-label="Session" {
                        span id="who" {}
                        button id="sign-out" type="button" hidden { "Sign out" }
                    }
                }
                main id="view" tabindex="-1" {
                    section id="sign-in" aria-labelledby="sign-in-title" hidden {
                        h1 id="sign-in-title" { "Sign in" }
                        form id="sign-in-form" {
                            label for="username" { "Username" }
                            input id="username" name="username" autocomplete="username" required;
                            label for="password" { "Password" }
                            input id="password" name="password" type="password" autocomplete="current-password" required;
                            button type="submit" { "Sign in" }
                            p id="sign-in-error" class="error" role="alert" {}
                        }
                    }
                    div id="content" aria-live="polite" {}
                }
                noscript { p { "The dashboard needs JavaScript: it sends your sign-in token with each request." } }
            }
        }
    }
}
