// Requests to the server's JSON API, and following a background job until it ends.

export async function api(path, options = {}) {
  const response = await fetch(path, options);
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new Error((data && data.error) || `${response.status} ${response.statusText}`);
  }
  return data;
}

export function postJSON(path, body) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

// Polls the job until it is done, failed or cancelled; onUpdate(job) hears of every state on the way.
export async function followJob(job, onUpdate, interval = 250) {
  while (job.state === "queued" || job.state === "running") {
    onUpdate(job);
    await new Promise((resolve) => setTimeout(resolve, interval));
    job = await api(`/api/jobs/${job.id}`);
  }
  onUpdate(job);
  return job;
}

export function percent(value) {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`;
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}
