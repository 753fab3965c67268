// Stand-in for 'wix-web-module': webMethod(permission, fn) and Permissions.
// Between page and backend, arguments and answers travel as JSON (Wix docs), so here too.
export const Permissions = Object.freeze({
  Anyone: 'Anyone',
  SiteMember: 'SiteMember',
  Admin: 'Admin',
});

export function webMethod(permission, fn) {
  if (!Object.values(Permissions).includes(permission)) {
    throw new TypeError(`unknown permission: ${String(permission)}`);
  }
  const method = async (...args) => {
    const sent = JSON.parse(JSON.stringify(args));
    const answer = await fn(...sent);
    return answer === undefined ? undefined : JSON.parse(JSON.stringify(answer));
  };
  method.permission = permission;
  return method;
}
