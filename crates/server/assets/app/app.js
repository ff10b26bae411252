// Coffer's web app. Every call goes to the API with the session cookie
// (HttpOnly: this script never sees a token).

const who = document.getElementById('who');
const status = document.getElementById('status');
const signOut = document.getElementById('sign-out');

async function start() {
  const response = await fetch('/app/session', { headers: { accept: 'application/json' } });
  if (response.status === 401) {
    status.textContent = '';
    const link = document.createElement('a');
    link.href = `/app/sign-in?return=${encodeURIComponent(location.pathname + location.hash)}`;
    link.textContent = 'Sign in';
    status.append(link);
    return;
  }
  const session = await response.json();
  who.textContent = `${session.subject}${session.tenant ? ` · ${session.tenant.display_name}` : ''}`;
  status.textContent = '';
  signOut.hidden = false;
}

signOut.addEventListener('click', async () => {
  const response = await fetch('/app/sign-out', { method: 'POST' });
  const next = await response.json();
  location.assign(next.redirect);
});

start();
