//! Just enough `postgres://` URL handling to point at other databases and
//! roles of one server.

/// A server's URL split into the parts the harness changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    userinfo: Option<String>,
    hostport: String,
    query: Option<String>,
}

impl ServerUrl {
    /// Splits `postgres://[user[:password]@]host[:port][/db][?params]`.
    pub fn parse(url: &str) -> Self {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .unwrap_or(url);
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q.to_owned())),
            None => (rest, None),
        };
        let authority = rest.split('/').next().unwrap_or(rest);
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_owned()), h.to_owned()),
            None => (None, authority.to_owned()),
        };
        Self {
            userinfo,
            hostport,
            query,
        }
    }

    pub fn from_parts(user: &str, host: &str, port: u16) -> Self {
        Self {
            userinfo: Some(user.to_owned()),
            hostport: format!("{host}:{port}"),
            query: None,
        }
    }

    /// The same server as another role.
    pub fn as_user(&self, user: &str, password: &str) -> Self {
        Self {
            userinfo: Some(format!("{user}:{password}")),
            ..self.clone()
        }
    }

    /// The URL of database `db` on this server.
    pub fn database(&self, db: &str) -> String {
        let mut url = String::from("postgres://");
        if let Some(userinfo) = &self.userinfo {
            url.push_str(userinfo);
            url.push('@');
        }
        url.push_str(&self.hostport);
        url.push('/');
        url.push_str(db);
        if let Some(query) = &self.query {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// For messages: the URL without its password.
    pub fn redacted(&self) -> String {
        let user = self
            .userinfo
            .as_deref()
            .map(|u| u.split(':').next().unwrap_or(u).to_owned() + "@")
            .unwrap_or_default();
        format!("postgres://{user}{}", self.hostport)
    }
}

#[cfg(test)]
mod tests {
    use super::ServerUrl;

    #[test]
    fn swaps_database_and_role() {
        let url =
            ServerUrl::parse("postgres://postgres:pw@127.0.0.1:5432/postgres?sslmode=disable");
        assert_eq!(
            url.database("x"),
            "postgres://postgres:pw@127.0.0.1:5432/x?sslmode=disable"
        );
        assert_eq!(
            url.as_user("coffer_app", "s").database("y"),
            "postgres://coffer_app:s@127.0.0.1:5432/y?sslmode=disable"
        );
        assert_eq!(url.redacted(), "postgres://postgres@127.0.0.1:5432");
        assert_eq!(
            ServerUrl::parse("postgres://h:1").database("d"),
            "postgres://h:1/d"
        );
    }
}
