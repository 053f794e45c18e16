/**
 * Every failure the library reports. `code` is the server's error code (docs/protocol.md §2.5 and
 * §3.1: `bad_request`, `unknown_recipient`, `forbidden`, `unauthorized`, `not_found`, …) or one of
 * the library's own:
 *  - `closed`: the client was closed (or closed for good, see ChatClient) before the send was acknowledged;
 *  - `too_large`: the frame would exceed `maxFrameBytes`, so it was never sent;
 *  - `network`: a REST request could not reach the server;
 *  - `token`: the `getToken` callback failed.
 */
export class ChatError extends Error {
  override readonly name = "ChatError";

  constructor(
    readonly code: string,
    message: string,
    /** The HTTP status of a REST failure. */
    readonly status?: number,
    /** The `id` of the send this error answers. */
    readonly id?: string,
  ) {
    super(message);
  }
}
