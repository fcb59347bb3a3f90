/// `/login`: one field, the token, posted to `/login`.
enum LoginPage {
    static func render(estate: String, error: String?, held: Bool) -> HTML {
        let message: HTML? = error.map { "<p class=\"error\" role=\"alert\">\($0)</p>" }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">\
            <meta name="viewport" content="width=device-width, initial-scale=1">\
            <meta name="color-scheme" content="light dark">\
            <title>Sign in · \(estate) · phoenix</title>\
            <link rel="stylesheet" href="/assets/phoenix.css"></head>
            <body><main id="main"><h1>phoenix · \(estate)</h1>
            <form method="post" action="/login" class="card">
            <p>Sign in with a token of the agent's tokens file.</p>
            \(message)
            <label for="token">Token</label>
            <input type="password" id="token" name="token" autocomplete="current-password" required\(held ? HTML(" disabled") : .empty)>
            <p><button type="submit" class="primary">Sign in</button></p>
            </form></main></body></html>

            """
    }
}
