// The pinned AWS SDK warns at each client's creation that its releases after early 2027 need
// Node 22: known (README), and not what npm start or an operator command should open with.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
