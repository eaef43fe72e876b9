/**
 * What a credential looks like, by name or by value. The config loader refuses such `env:`
 * entries (they belong in `secrets:`), and the security policy (rule TCP-ECS5) refuses them in
 * any task definition, including ones built without a config file.
 */

/** Names that say "this is a credential": DATABASE_PASSWORD, API_KEY, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY... */
const SECRET_NAME =
  /(^|_)(PASSWORD|PASSWD|PASSPHRASE|SECRET|SECRETS|TOKEN|API_?KEY|APIKEY|PRIVATE_?KEY|ACCESS_?KEY(_ID)?|SECRET_?KEY|CREDENTIALS?|AUTH_?KEY|CLIENT_?SECRET|SIGNING_?KEY|ENCRYPTION_?KEY|SESSION_?KEY)($|_)/i;

/** Names that point at a secret rather than hold one: DB_PASSWORD_FILE, API_KEY_ARN. */
const SECRET_POINTER = /_(FILE|PATH|ARN|PARAM|PARAMETER|NAME)$/i;

/** Values that are credentials whatever their name. */
const SECRET_VALUES: readonly [RegExp, string][] = [
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/, "an AWS access key id"],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a PEM private key"],
  [/^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, "a URL with a password in it"],
  [/\b(ghp|gho|ghs|ghu|github_pat|glpat|xox[abpr])[-_][A-Za-z0-9_-]{10,}/, "an access token"],
];

/** True when an environment variable's name says it holds a credential. */
export function looksLikeSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !SECRET_POINTER.test(name);
}

/** What kind of credential `value` is ("a PEM private key"...), or undefined when it looks like none. */
export function secretValueKind(value: string): string | undefined {
  return SECRET_VALUES.find(([pattern]) => pattern.test(value))?.[1];
}
