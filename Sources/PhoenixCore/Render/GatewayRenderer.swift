/// Renders the NGINX gateway from the service catalogue: HTTP → HTTPS with the ACME webroot, HTTPS
/// re-encrypted to Traefik (verified against the internal CA), and a TCP stream to Traefik's mesh.
struct GatewayRenderer {
    let estate: Estate

    func render(into output: inout RenderOutput) {
        guard let gateway = Gateway(estate: estate).guest else {
            output.notes.append("gateway: no gateway guest (a guest named Nginx-Phoenix, or phoenix.gateway_guest), nothing to render")
            return
        }
        guard let traefik = Ingress(estate: estate).address else {
            output.notes.append("gateway: the ingress has no static address, nothing to render")
            return
        }
        let settings = estate.settings.gateway
        let traefikSettings = estate.settings.traefik
        let hosts = ServiceCatalogue(estate: estate).gatewayHosts.map(\.text)
        let names = hosts.isEmpty ? "_" : hosts.joined(separator: " ")

        let site = """
            # \(generatedHeader)
            map $http_upgrade $phoenix_connection_upgrade {
                default upgrade;
                ''      close;
            }

            server {
                listen \(settings.httpListen.nginxForm);
                server_name \(names);

                location /.well-known/acme-challenge/ {
                    root \(settings.acmeWebroot);
                }

                location / {
                    return 301 https://$host$request_uri;
                }
            }

            server {
                listen \(settings.httpsListen.nginxForm) ssl http2;
                server_name \(names);

                ssl_certificate \(settings.certFile);
                ssl_certificate_key \(settings.keyFile);
                ssl_protocols TLSv1.2 TLSv1.3;

                location / {
                    proxy_pass https://\(traefik):\(traefikSettings.websecure.port);
                    proxy_http_version 1.1;
                    proxy_set_header Host $host;
                    proxy_set_header X-Real-IP $remote_addr;
                    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                    proxy_set_header X-Forwarded-Proto $scheme;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection $phoenix_connection_upgrade;
                    proxy_ssl_server_name on;
                    proxy_ssl_name $host;
                    proxy_ssl_verify on;
                    proxy_ssl_verify_depth 2;
                    proxy_ssl_trusted_certificate \(settings.caFile);
                }
            }

            """
        output.files.append(RenderedFile(target: .guest(gateway.id), path: settings.siteFile, contents: site))

        let stream = """
            # \(generatedHeader)
            # TLS passes through untouched: clients present their own certificates to Traefik's mesh entry point.
            server {
                listen \(settings.streamListen.nginxForm);
                proxy_pass \(traefik):\(traefikSettings.mesh.port);
                proxy_connect_timeout 5s;
            }

            """
        output.files.append(RenderedFile(target: .guest(gateway.id), path: settings.streamFile, contents: stream))
    }
}
