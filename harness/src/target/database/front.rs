//! The auth front of an embedded target's RDS instance: it speaks just
//! enough of PostgreSQL's protocol to take a login the way RDS does with IAM
//! database authentication (the client sends its auth token as a cleartext
//! password), asks the emulator whether RDS would let the token in as the
//! user, and then either refuses as RDS refuses (FATAL 28P01, "PAM
//! authentication failed for user") or hands the connection to the local
//! PostgreSQL as that user and relays it both ways
//! (https://www.postgresql.org/docs/15/protocol-flow.html).

use std::path::PathBuf;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixStream};

/// What a front needs: the instance it stands for, the emulator that judges tokens, the socket of the server.
#[derive(Clone)]
pub struct Front {
    /// The instance's endpoint (what its tokens must name).
    pub host: String,
    pub port: String,
    /// The emulator's `/_harness/rds-db/authenticate`.
    pub authenticate: String,
    pub http: reqwest::Client,
    /// The local PostgreSQL's socket file.
    pub socket: PathBuf,
}

const SSL_REQUEST: i32 = 80_877_103;
const PROTOCOL_3: i32 = 196_608;

impl Front {
    /// Serve connections until the listener is dropped with the task.
    pub async fn serve(self, listener: TcpListener) {
        while let Ok((client, _)) = listener.accept().await {
            let front = self.clone();
            tokio::spawn(async move {
                if let Err(err) = front.connection(client).await {
                    tracing::debug!("auth front of {}:{}: {err}", front.host, front.port);
                }
            });
        }
    }

    async fn connection(&self, mut client: TcpStream) -> std::io::Result<()> {
        let mut startup = read_startup(&mut client).await?;
        if code_of(&startup) == SSL_REQUEST {
            // The front speaks plain TCP on loopback: no TLS (the client's sslmode=disable).
            client.write_all(b"N").await?;
            startup = read_startup(&mut client).await?;
        }
        if code_of(&startup) != PROTOCOL_3 {
            return Err(std::io::Error::other("not a protocol 3.0 startup"));
        }
        let user = parameter(&startup, "user").unwrap_or_default();
        // AuthenticationCleartextPassword: the token comes as the password.
        client.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await?;
        let token = read_password(&mut client).await?;
        match self.judge(&token, &user).await {
            Ok(()) => {
                let mut server = UnixStream::connect(&self.socket).await?;
                server.write_all(&startup).await?;
                tokio::io::copy_bidirectional(&mut client, &mut server).await?;
                Ok(())
            }
            Err(why) => {
                tracing::info!("refused a login as {user} at {}:{}: {why}", self.host, self.port);
                client.write_all(&refusal(&user)).await?;
                Ok(())
            }
        }
    }

    /// Whether the emulator lets the token in as `user` (Err: why not).
    async fn judge(&self, token: &str, user: &str) -> Result<(), String> {
        let body = serde_json::json!({"token": token, "user": user});
        let answer = self.http.post(&self.authenticate).json(&body).send().await.map_err(|e| format!("the emulator did not answer: {e}"))?;
        let answer: serde_json::Value = answer.json().await.map_err(|e| format!("the emulator's answer is not JSON: {e}"))?;
        match answer["allowed"].as_bool() {
            Some(true) => Ok(()),
            _ => Err(answer["why"].as_str().unwrap_or("refused").to_string()),
        }
    }
}

/// A startup packet (its length first, then the code and the parameters), whole.
async fn read_startup(client: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let length = client.read_i32().await?;
    if !(8..=10_000).contains(&length) {
        return Err(std::io::Error::other("a startup packet of a length no client sends"));
    }
    let mut packet = length.to_be_bytes().to_vec();
    packet.resize(length as usize, 0);
    client.read_exact(&mut packet[4..]).await?;
    Ok(packet)
}

fn code_of(packet: &[u8]) -> i32 {
    i32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]])
}

/// A startup parameter (`user`, `database`).
fn parameter(packet: &[u8], name: &str) -> Option<String> {
    let mut fields = packet[8..].split(|b| *b == 0);
    while let Some(key) = fields.next() {
        let value = fields.next()?;
        if key == name.as_bytes() {
            return Some(String::from_utf8_lossy(value).into_owned());
        }
    }
    None
}

/// The PasswordMessage's text.
async fn read_password(client: &mut TcpStream) -> std::io::Result<String> {
    if client.read_u8().await? != b'p' {
        return Err(std::io::Error::other("expected a password message"));
    }
    let length = client.read_i32().await?;
    if !(5..=20_000).contains(&length) {
        return Err(std::io::Error::other("a password message of a length no client sends"));
    }
    let mut text = vec![0; length as usize - 4];
    client.read_exact(&mut text).await?;
    Ok(String::from_utf8_lossy(text.strip_suffix(&[0]).unwrap_or(&text)).into_owned())
}

/// The ErrorResponse RDS answers a token it refuses with.
fn refusal(user: &str) -> Vec<u8> {
    let mut fields = Vec::new();
    for (tag, value) in [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', crate::service::rds::REFUSED)] {
        fields.push(tag);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(b'M');
    fields.extend_from_slice(format!("PAM authentication failed for user \"{user}\"").as_bytes());
    fields.extend_from_slice(&[0, 0]);
    let mut message = vec![b'E'];
    message.extend_from_slice(&(fields.len() as i32 + 4).to_be_bytes());
    message.extend_from_slice(&fields);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_startup_packets_parameters_are_read() {
        let mut packet = vec![0, 0, 0, 0];
        packet.extend_from_slice(&PROTOCOL_3.to_be_bytes());
        packet.extend_from_slice(b"user\0app_user\0database\0postgres\0\0");
        assert_eq!(parameter(&packet, "user").as_deref(), Some("app_user"));
        assert_eq!(parameter(&packet, "database").as_deref(), Some("postgres"));
        assert_eq!(parameter(&packet, "options"), None);
    }

    #[test]
    fn a_refusal_is_rds_pam_failure() {
        let message = refusal("admin");
        assert_eq!(message[0], b'E');
        let text = String::from_utf8_lossy(&message);
        assert!(text.contains("C28P01\0") && text.contains("MPAM authentication failed for user \"admin\"\0"), "{text}");
        assert_eq!(i32::from_be_bytes([message[1], message[2], message[3], message[4]]) as usize, message.len() - 1);
    }
}
