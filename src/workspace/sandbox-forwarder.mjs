// Runs inside the setup sandbox, on the sandbox's own node: listens on 127.0.0.1:<port> of the sandbox's
// private loopback (the only network it has), pipes each connection to the host's registry proxy through the
// Unix socket bound into the sandbox, and once listening runs the setup command and exits with its status.
// Starting the command from here (not from a shell) means it never races the listener.
// Usage: node sandbox-forwarder.mjs <port> <socket-path> <command> [args...]
import { spawn } from "node:child_process";
import net from "node:net";
import { constants } from "node:os";
import process from "node:process";

const [portText, socketPath, file, ...args] = process.argv.slice(2);
const port = Number(portText);
if (!Number.isInteger(port) || !socketPath || !file) {
  process.stderr.write("aura forwarder: usage: sandbox-forwarder.mjs <port> <socket-path> <command> [args...]\n");
  process.exit(125);
}

const server = net.createServer((client) => {
  const upstream = net.connect(socketPath);
  const cut = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", cut);
  upstream.on("error", cut);
  client.pipe(upstream);
  upstream.pipe(client);
});

server.on("error", (error) => {
  process.stderr.write(`aura forwarder: cannot listen on 127.0.0.1:${port}: ${error.message}\n`);
  process.exit(125);
});

server.listen(port, "127.0.0.1", () => {
  const child = spawn(file, args, { stdio: "inherit" });
  child.on("error", (error) => {
    process.stderr.write(`aura forwarder: cannot start ${file}: ${error.message}\n`);
    process.exit(127);
  });
  // A shell reports a command killed by a signal as 128 + its number; do the same.
  child.on("exit", (code, signal) => process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
});
