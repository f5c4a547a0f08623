// The 404 page (an unknown page or event): the header shows who is signed in, as on
// every other page; the server wrote everything else.

import { initNav } from "../nav.js";

initNav();
