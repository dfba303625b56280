// GET /api/auth/session: next-auth's client (inside the components) asks here before every backend request.
// Sign-in is off in this host, so there is never a session: an empty object means "signed out" to next-auth,
// and the components then send no Authorization header.
export default function session(request, response) {
  response.setHeader('Cache-Control', 'no-store');
  response.status(200).json({});
}
