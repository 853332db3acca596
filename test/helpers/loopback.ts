// The hosts tests may connect to for real: the servers and databases they start themselves on loopback.
export const loopbackHost = (host: string): boolean => host.startsWith("127.0.0.1") || host.startsWith("localhost");
